/* ndjson.c - the ndjson module: each line of the input is one CloudEvents
 * JSON object (structured mode, as `ratusz pub` and rz_event_to_json write
 * it) and becomes one event; a line that is not one is quarantined.
 *
 * A line may leave out "id" (it is then derived from the input's content
 * and the line number, so a re-import publishes nothing new), "source"
 * (the runtime's configured source is used), and "tenant" or "type" when
 * the module's options give defaults. Lines of only whitespace separate
 * nothing and are not records. CRLF line ends and a UTF-8 BOM are
 * accepted. An input with a NUL byte is not text at all (a binary file
 * dropped by mistake) and is refused as a whole.
 */
#include "ndjson.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rz_conf_option_t s_options[] = {
    {"default_tenant", RZ_CONF_STRING,
     offsetof(rz_ndjson_conf_t, default_tenant), "", NULL, 0, 0, "TERC",
     "tenant of lines without one"},
    {"default_type", RZ_CONF_STRING, offsetof(rz_ndjson_conf_t, default_type),
     "", NULL, 0, 0, "TYPE", "type of lines without one"},
    {0}};

static int s_open(void **state, const void *conf, char *err, size_t err_len)
{
    *state = (void *)conf; /* the options are all the state there is */
    return 0;
}

static int s_blank(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

typedef struct s_visit {
    rz_out_t *out;
    const rz_record_ref_t *ref;
    const char *no_source; /* the stand-in for a line without a source */
    int rc;
} s_visit_t;

/* The event as it was read, without a copy of what it points to. */
static int s_out(const Ratusz__V1__Event *ev, void *user)
{
    s_visit_t *v = user;
    Ratusz__V1__Event e = *ev;
    /* the reader hands over the stand-in itself: the runtime fills in
     * its configured source where a module leaves it empty */
    if (e.source == v->no_source)
        e.source = (char *)"";
    v->rc = rz_out_event(v->out, v->ref, &e);
    return 0;
}

/* One line to one event or one quarantined record, in one parse. What a
 * line leaves out is filled in: the source by the runtime (its configured
 * one), the id from the file's content id and the line, the tenant and the
 * type from the module's options. */
static int s_line(const rz_ndjson_conf_t *cf, const rz_input_t *in,
                  rz_out_t *out, const uint8_t *p, size_t n, uint64_t line)
{
    char key[32], id[RZ_ID_MAX + 1], err[300], why[400];
    snprintf(key, sizeof key, "line %llu", (unsigned long long)line);
    rz_record_ref_t ref = {line, key, p, n};
    size_t len = n;
    if (len && p[len - 1] == '\r')
        len--;
    Ratusz__V1__Event dflt = RATUSZ__V1__EVENT__INIT;
    dflt.source = (char *)"-";
    dflt.id = rz_adapter_id(id, sizeof id, "ndjson", in->content_id, key) < 0
                  ? NULL
                  : id;
    dflt.tenant = cf->default_tenant;
    dflt.type = cf->default_type;
    s_visit_t v = {out, &ref, dflt.source, 0};
    int rc = rz_event_from_json_visit((const char *)p, len, &dflt, s_out, &v,
                                      err, sizeof err);
    if (rc == 0)
        /* the runtime quarantined a record it could not take; go on */
        return v.rc == RZ_ENOMEM ? v.rc : 0;
    if (rc == RZ_ENOMEM)
        return rc;
    if (rc == RZ_EDECODE && strcmp(err, "JSON: not an object") == 0)
        snprintf(why, sizeof why, "not a JSON object");
    else if (rc == RZ_EDECODE)
        snprintf(why, sizeof why, "not JSON: %s",
                 strncmp(err, "JSON: ", 6) == 0 ? err + 6 : err);
    else if (!dflt.id && strcmp(err, "missing attribute 'id'") == 0)
        snprintf(why, sizeof why, "no 'id' and none can be derived");
    else
        snprintf(why, sizeof why, "not a CloudEvent: %s", err);
    return rz_out_quarantine(out, &ref, why);
}

static int s_parse(void *state, const rz_input_t *in, rz_out_t *out,
                   char *err, size_t err_len)
{
    const rz_ndjson_conf_t *cf = state;
    const uint8_t *p = in->data, *end = in->data + in->len;
    uint64_t line = in->partial && in->first_line ? in->first_line : 1;
    if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3;
    const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul) {
        snprintf(err, err_len, "binary data (a NUL byte at offset %zu): "
                 "not NDJSON", (size_t)(nul - in->data));
        return RZ_EINVAL;
    }
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!s_blank(p, n)) {
            int rc = s_line(cf, in, out, p, n, line);
            if (rc == RZ_ENOMEM) {
                snprintf(err, err_len, "out of memory at line %llu",
                         (unsigned long long)line);
                return rc;
            }
        }
        line++;
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

const rz_adapter_module_t rz_module_ndjson = {
    .name = "ndjson",
    .description = "CloudEvents JSON, one object per line",
    .options = s_options,
    .conf_size = sizeof(rz_ndjson_conf_t),
    .open = s_open,
    .parse = s_parse,
};
