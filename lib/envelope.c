/* envelope.c - what makes an Event valid on the bus, and its topic.
 *
 * The broker and every client use these same functions, so a client that
 * checks an event before sending gets the answer the broker would give.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratusz/ratusz.h"

#define S_PREFIX_LEN (sizeof(RZ_TYPE_PREFIX) - 1)

int64_t rz_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *rz_event_data_domain(const Ratusz__V1__Event *ev)
{
    switch (ev->data_case) {
    case RATUSZ__V1__EVENT__DATA_BUDGET: return "budget";
    case RATUSZ__V1__EVENT__DATA_AIR_QUALITY: return "env";
    case RATUSZ__V1__EVENT__DATA_TAX: return "tax";
    case RATUSZ__V1__EVENT__DATA_GIS: return "gis";
    default: return NULL;
    }
}

/* The type without the well-known prefix, and the length of its first
 * segment (the domain). */
static const char *s_type_suffix(const char *type, size_t *domain_len)
{
    const char *suffix = type;
    if (strncmp(type, RZ_TYPE_PREFIX, S_PREFIX_LEN) == 0)
        suffix = type + S_PREFIX_LEN;
    const char *dot = strchr(suffix, '.');
    *domain_len = dot ? (size_t)(dot - suffix) : strlen(suffix);
    return suffix;
}

static int s_fail(char *why, size_t len, const char *fmt, const char *arg)
{
    if (why && len)
        snprintf(why, len, fmt, arg);
    return RZ_EINVALEVENT;
}

/* The length of s, and in *clean whether it is free of control
 * characters (topics and keys are joined with separators, and logs must
 * stay readable). One branch-free pass: this runs on every publish. */
static size_t s_text_len(const char *s, int *clean)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned bad = 0;
    for (; *p; p++)
        bad |= (unsigned)(*p < 0x20) | (unsigned)(*p == 0x7f);
    *clean = !bad;
    return (size_t)(p - (const unsigned char *)s);
}

int rz_event_check(const Ratusz__V1__Event *ev, char *why, size_t why_len)
{
    static const struct {
        const char *name;
        size_t off;
        size_t max;
        int required;
    } attrs[] = {
        {"id", offsetof(Ratusz__V1__Event, id), RZ_ID_MAX, 1},
        {"source", offsetof(Ratusz__V1__Event, source), RZ_SOURCE_MAX, 1},
        {"type", offsetof(Ratusz__V1__Event, type), RZ_TYPE_MAX, 1},
        /* the TERC check below says more than "too long" would */
        {"tenant", offsetof(Ratusz__V1__Event, tenant), 64, 1},
        {"subject", offsetof(Ratusz__V1__Event, subject), RZ_SUBJECT_MAX, 0},
    };
    if (why && why_len)
        why[0] = '\0';
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *v = *(char *const *)((const char *)ev + attrs[i].off);
        if (!v || !*v) {
            if (attrs[i].required)
                return s_fail(why, why_len, "missing attribute '%s'",
                              attrs[i].name);
            continue;
        }
        int clean;
        if (s_text_len(v, &clean) > attrs[i].max)
            return s_fail(why, why_len, "attribute '%s' is too long",
                          attrs[i].name);
        if (!clean)
            return s_fail(why, why_len,
                          "attribute '%s' contains control characters",
                          attrs[i].name);
    }

    size_t tlen = strlen(ev->tenant);
    int digits = 1;
    for (const char *p = ev->tenant; *p; p++)
        if (*p < '0' || *p > '9')
            digits = 0;
    if (!digits || (tlen != 2 && tlen != 4 && tlen != 7))
        return s_fail(why, why_len,
                      "tenant '%s' is not a TERYT TERC code (2, 4 or 7 "
                      "digits)",
                      ev->tenant);

    size_t dlen;
    const char *suffix = s_type_suffix(ev->type, &dlen);
    if (dlen == 0 || strchr(ev->type, ' '))
        return s_fail(why, why_len, "type '%s' is not reverse-DNS", ev->type);

    const char *domain = rz_event_data_domain(ev);
    if (domain && (strlen(domain) != dlen || memcmp(domain, suffix, dlen)))
        return s_fail(why, why_len,
                      "type '%s' does not match the domain of its data",
                      ev->type);
    if (ev->data_case == RATUSZ__V1__EVENT__DATA_RAW && ev->raw &&
        ev->raw->bytes.len > 0 &&
        (!ev->raw->content_type || !*ev->raw->content_type))
        return s_fail(why, why_len, "%s",
                      "raw data without a content_type");

    if (tlen + 1 + strlen(suffix) > RZ_TOPIC_MAX)
        return s_fail(why, why_len, "%s", "topic too long");
    return 0;
}

int rz_event_topic(const Ratusz__V1__Event *ev, char *buf, size_t len)
{
    /* on every publish: plain copies, no printf */
    size_t dlen;
    const char *tenant = ev->tenant ? ev->tenant : "";
    const char *suffix = s_type_suffix(ev->type ? ev->type : "", &dlen);
    size_t tl = strlen(tenant), sl = strlen(suffix), n = tl + 1 + sl;
    if (n >= len || n > RZ_TOPIC_MAX) {
        if (len)
            buf[0] = '\0';
        return RZ_EINVAL;
    }
    memcpy(buf, tenant, tl);
    buf[tl] = '.';
    memcpy(buf + tl + 1, suffix, sl + 1);
    return (int)n;
}
