/* ingest.c - the runtime behind rz_out_t: a module's events go to the
 * outbox, its rejected records to the quarantine, each record counted
 * once; and the runtime object that holds module, TERYT and store */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "runtime.h"

/* ===========================================================================
 * Small helpers
 */

void rz_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char digits[] = "0123456789abcdef";
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        n = 0;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = i < n ? digits[md[i] >> 4] : '0';
        hex[2 * i + 1] = i < n ? digits[md[i] & 15] : '0';
    }
    hex[64] = '\0';
}

int rz_read_file(const char *path, uint8_t **data, size_t *len)
{
    return rz_read_file_flags(path, 0, data, len);
}

int rz_read_file_flags(const char *path, unsigned flags, uint8_t **data,
                       size_t *len)
{
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO swapped in after the caller looked must not hang
     * the open waiting for a writer; the fstat below refuses it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                            (flags & RZ_READ_NOFOLLOW ? O_NOFOLLOW : 0));
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : RZ_EINVAL;
    }
    /* back to blocking reads: a regular file never blocks anyway */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return RZ_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return RZ_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int e = ferror(f) ? -EIO : 0;
    fclose(f);
    if (e) {
        free(buf);
        return e;
    }
    *data = buf;
    *len = n;
    return 0;
}

void rz_rt_set_status(rz_rt_t *rt, char *which, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&rt->status_lock);
    va_start(ap, fmt);
    vsnprintf(which, sizeof rt->pub_status, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&rt->status_lock);
}

/* ===========================================================================
 * The runtime object
 */

/* The YAML loader flattens a mapping nested in the module's section
 * ("tenant_names: {Gdańsk: '2261011'}" arrives as the key
 * "tenant_names.Gdańsk"); a module's MAP option takes it back as
 * "Gdańsk=2261011", which is what rz_conf_apply_map expects of a map. */
static int s_apply_section(const rz_adapter_module_t *mod, void *obj,
                           const rz_conf_map_t *section, const char *file,
                           char *err, size_t err_len)
{
    if (!section || !section->n)
        return 0;
    rz_conf_map_t m = {section->n, calloc(section->n, sizeof(char *)),
                       calloc(section->n, sizeof(char *)), section->lines};
    int rc = m.keys && m.values ? 0 : RZ_ENOMEM;
    for (size_t i = 0; !rc && i < m.n; i++) {
        const char *k = section->keys[i], *dot = strchr(k, '.');
        const rz_conf_option_t *o = NULL;
        for (const rz_conf_option_t *p = mod->options; dot && p->name; p++)
            if (p->type == RZ_CONF_MAP && strlen(p->name) == (size_t)(dot - k) &&
                !strncmp(p->name, k, (size_t)(dot - k)))
                o = p;
        if (o) {
            m.keys[i] = strdup(o->name);
            size_t n = strlen(dot + 1) + strlen(section->values[i]) + 2;
            if ((m.values[i] = malloc(n)))
                snprintf(m.values[i], n, "%s=%s", dot + 1, section->values[i]);
        } else {
            m.keys[i] = strdup(k);
            m.values[i] = strdup(section->values[i]);
        }
        if (!m.keys[i] || !m.values[i])
            rc = RZ_ENOMEM;
    }
    if (!rc)
        rc = rz_conf_apply_map(mod->options, obj, &m, file, mod->name, err,
                               err_len);
    for (size_t i = 0; i < m.n; i++) {
        if (m.keys)
            free(m.keys[i]);
        if (m.values)
            free(m.values[i]);
    }
    free(m.keys);
    free(m.values);
    return rc;
}

int rz_rt_open(rz_rt_t *rt, rz_rt_conf_t *conf, const char *conf_file,
               const rz_adapter_module_t *mod, const rz_conf_map_t *section,
               int dry_run, char *err, size_t err_len)
{
    memset(rt, 0, sizeof *rt);
    rt->conf = conf;
    rt->conf_file = conf_file;
    rt->mod = mod;
    rt->dry_run = dry_run;
    rt->dry_out = stdout;
    rt->dry_err = stderr;
    rt->started = rz_now_us();
    pthread_mutex_init(&rt->ingest_lock, NULL);
    pthread_mutex_init(&rt->status_lock, NULL);
    snprintf(rt->pub_status, sizeof rt->pub_status, "ok");
    snprintf(rt->sink_status, sizeof rt->sink_status, "%s",
             conf->sink ? "starting" : "");
    int rc;
    rt->mod_conf = calloc(1, mod->conf_size ? mod->conf_size : 1);
    if (!rt->mod_conf)
        return RZ_ENOMEM;
    if (mod->options) {
        if ((rc = rz_conf_init(mod->options, rt->mod_conf)))
            return rc;
        rc = s_apply_section(mod, rt->mod_conf, section, conf_file, err,
                             err_len);
        if (rc)
            return rc;
    }
    if (mod->open &&
        (rc = mod->open(&rt->mod_state, rt->mod_conf, err, err_len))) {
        if (!*err)
            snprintf(err, err_len, "module %s: %s", mod->name,
                     rz_strerror(rc));
        return rc;
    }
    rt->mod_opened = 1;
    if (conf->teryt.n) {
        if (!(rt->teryt = rz_teryt_new()))
            return RZ_ENOMEM;
        for (size_t i = 0; i < conf->teryt.n; i++) {
            rc = rz_teryt_load(rt->teryt, conf->teryt.items[i], err, err_len);
            if (rc < 0)
                return rc;
        }
    }
    if (!dry_run) {
        rc = rz_astore_open(&rt->store, conf->data_dir, conf->outbox_size, err,
                            err_len);
        if (rc)
            return rc;
        rz_qclass_count_t qc[RZ_QCLASS_MAX + 1];
        int n = rz_quarantine_classes(rt->store, qc, RZ_QCLASS_MAX + 1);
        for (int i = 0; i < n; i++) {
            memcpy(rt->qbase[i].cls, qc[i].cls, sizeof rt->qbase[i].cls);
            rt->qbase[i].total = qc[i].total;
        }
        rt->qbase_n = n > 0 ? (size_t)n : 0;
    }
    return 0;
}

void rz_rt_close(rz_rt_t *rt)
{
    if (rt->mod_opened && rt->mod->close)
        rt->mod->close(rt->mod_state);
    rt->mod_opened = 0;
    if (rt->mod_conf && rt->mod->options)
        rz_conf_close(rt->mod->options, rt->mod_conf);
    free(rt->mod_conf);
    rt->mod_conf = NULL;
    rz_teryt_destroy(&rt->teryt);
    rz_astore_destroy(&rt->store);
    pthread_mutex_destroy(&rt->ingest_lock);
    pthread_mutex_destroy(&rt->status_lock);
}

/* ===========================================================================
 * One ingest: the rz_out_t the module reports to
 */

typedef struct s_ing {
    rz_out_t out;
    rz_rt_t *rt;
    const rz_input_t *in;
    const rz_ingest_opts_t *o;
    rz_ingest_result_t *r;
    rz_atxn_t txn;
    int open;
    uint64_t seen;   /* records reported, skipped ones included */
    uint64_t in_txn; /* records in the open transaction */
    int rc;          /* first store error: sticky */
    rz_retry_rec_t *cur; /* retry: the quarantined record this one is */
    /* the outputs of one record come one after the other: part counts
     * them (0 for the first) */
    uint64_t part_line;
    char *part_key;
    uint32_t part;
    int kept;            /* the input is kept (rz_kept_put) */
    char input_key[65];
    uint8_t *buf;
    size_t cap;
} s_ing_t;

static int s_begin(s_ing_t *g)
{
    if (g->open)
        return 0;
    int rc = rz_atxn_begin(g->rt->store, &g->txn);
    if (rc)
        return rc;
    g->open = 1;
    g->in_txn = 0;
    return 0;
}

static int s_commit(s_ing_t *g, int final)
{
    if (!g->open)
        return 0;
    int rc = 0;
    if (g->o->progress)
        rc = g->o->progress(&g->txn, g->seen, g->r, final, g->o->user);
    if (rc) {
        rz_atxn_abort(&g->txn);
    } else {
        rc = rz_atxn_commit(&g->txn);
    }
    g->open = 0;
    if (!rc && g->rt->on_spooled)
        g->rt->on_spooled(g->rt->on_spooled_user);
    return rc;
}

static int s_after_record(s_ing_t *g)
{
    g->in_txn++;
    uint64_t every = g->o->commit_every ? g->o->commit_every : UINT64_MAX;
    if (g->in_txn >= every) {
        int rc = s_commit(g, 0);
        if (rc)
            g->rc = rc;
        return rc;
    }
    return 0;
}

/* A record is counted as read unless it takes the place of a quarantined
 * record being retried, which was counted when it was first read. */
static int s_counts_as_read(s_ing_t *g)
{
    if (g->cur && !g->cur->taken) {
        g->cur->taken = 1;
        return 0;
    }
    return 1;
}

/* The same file imported twice quarantines its records twice: retried
 * records with the key and line of the one just taken are that record
 * read again. Their entries go, counted as duplicates (the record was
 * read once more, not lost), so the quarantine keeps one entry of it. */
static int s_take_twins(s_ing_t *g)
{
    for (size_t i = 0; g->cur && i < g->o->retry_n; i++) {
        rz_retry_rec_t *e = &g->o->retry[i];
        if (e == g->cur || e->taken || e->whole != g->cur->whole ||
            e->line != g->cur->line || e->part != g->cur->part ||
            strcmp(e->key, g->cur->key))
            continue;
        int rc = rz_quarantine_del(&g->txn, e->id);
        if (rc && rc != RZ_ENOTFOUND)
            return rc;
        e->taken = 1;
        e->twin_of = g->cur->id;
        g->txn.d_duplicates++;
    }
    return 0;
}

/* Retry: which retried record a reported record is (g->cur). Returns 0
 * when the record is to be skipped: it was handled when the input was
 * first ingested. */
/* Which output of its record ref is: outputs of one record (same line and
 * key) come one after the other. */
static void s_part(s_ing_t *g, const rz_record_ref_t *ref)
{
    const char *key = ref->key ? ref->key : "";
    if (g->part_key && g->part_line == ref->line &&
        !strcmp(g->part_key, key)) {
        g->part++;
        return;
    }
    free(g->part_key);
    g->part_key = strdup(key); /* NULL: every output is a part 0 */
    g->part_line = ref->line;
    g->part = 0;
}

static int s_match(s_ing_t *g, const rz_record_ref_t *ref)
{
    g->cur = NULL;
    if (!g->o->retry_n)
        return 1;
    const char *key = ref->key ? ref->key : "";
    rz_retry_rec_t *same = NULL, *more = NULL, *whole = NULL;
    for (size_t i = 0; i < g->o->retry_n; i++) {
        rz_retry_rec_t *e = &g->o->retry[i];
        if (e->whole || !g->o->retry_whole) {
            if (!whole || (whole->taken && !e->taken))
                whole = e;
        } else if (e->line == ref->line && !strcmp(e->key, key)) {
            if (e->part == g->part) {
                if (!same || (same->taken && !e->taken))
                    same = e;
            } else if (e->taken) {
                /* a record retried now gives more outputs than it had:
                 * the new ones are records read */
                more = e;
            }
        }
    }
    /* an output of a retried record that matches no part of it was
     * handled the first time (published) and is skipped */
    g->cur = same ? same : more ? more : whole;
    return g->cur || !g->o->retry_whole;
}

/* The input's key in the inputs database: its content with what else
 * makes its records what they are (content_id goes into event ids, the
 * first line into keys), so two tailed chunks of the same bytes are two
 * inputs and one file imported twice is one. */
static void s_input_key(const rz_input_t *in, char hex[65])
{
    char head[128];
    int n = snprintf(head, sizeof head, "%.64s\n%llu\n%d\n",
                     in->content_id ? in->content_id : "",
                     (unsigned long long)in->first_line, in->partial ? 1 : 0);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, head, (size_t)n) ||
        !EVP_DigestUpdate(c, in->data, in->len) ||
        !EVP_DigestFinal_ex(c, md, &mdn))
        mdn = 0;
    EVP_MD_CTX_free(c);
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = i < mdn ? digits[md[i] >> 4] : '0';
        hex[2 * i + 1] = i < mdn ? digits[md[i] & 15] : '0';
    }
    hex[64] = '\0';
}

/* Keep the input once, in the transaction of its first quarantined
 * record, so a retry can parse it again whole. */
static int s_keep_input(s_ing_t *g)
{
    if (g->kept)
        return 0;
    const rz_input_t *in = g->in;
    s_input_key(in, g->input_key);
    rz_kept_t k = {
        .time = in->time,
        .first_line = in->first_line,
        .partial = in->partial,
        .origin = in->origin ? in->origin : "",
        .name = in->name ? in->name : "",
        .content_type = in->content_type ? in->content_type : "",
        .content_id = in->content_id ? in->content_id : "",
        .data = in->data,
        .len = in->len,
    };
    int rc = rz_kept_put(&g->txn, g->input_key, &k);
    if (!rc)
        g->kept = 1;
    return rc;
}

static void s_note_reason(s_ing_t *g, const char *reason)
{
    if (!g->r->first_reason[0])
        snprintf(g->r->first_reason, sizeof g->r->first_reason, "%s",
                 reason);
}

static int s_quarantine_store(s_ing_t *g, const rz_record_ref_t *ref,
                              const char *reason)
{
    const rz_input_t *in = g->in;
    g->r->quarantined++;
    s_note_reason(g, reason);
    if (g->rt->dry_run) {
        fprintf(g->rt->dry_err, "quarantined: %s:%llu: %s: %s\n", in->origin,
                (unsigned long long)ref->line, ref->key ? ref->key : "",
                reason);
        return 0;
    }
    if (g->rc)
        return g->rc;
    int rc = s_begin(g);
    if (rc || (rc = s_keep_input(g)))
        return g->rc = rc;
    rz_qrec_t q = {
        .time = rz_now_us(),
        .line = ref->line,
        .kind = RZ_QKIND_RECORD,
        .module = g->rt->mod->name,
        .origin = in->origin ? in->origin : "",
        .name = in->name ? in->name : "",
        .key = ref->key ? ref->key : "",
        .reason = reason,
        .content_type = in->content_type ? in->content_type : "",
        .content_id = in->content_id ? in->content_id : "",
        /* the whole input is kept once, not again in the record */
        .bytes = ref->bytes,
        .len = ref->bytes ? ref->len : 0,
        .input = g->input_key,
        .whole = !ref->bytes,
        .part = g->part,
    };
    int replace = 0;
    if (g->cur) {
        g->cur->again++;
        snprintf(g->cur->reason, sizeof g->cur->reason, "%s", reason);
    }
    if (g->cur && !g->cur->taken)
        q.id = g->cur->id;
    if (s_counts_as_read(g)) {
        g->txn.d_read++;
    } else {
        replace = 1;
        if ((rc = s_take_twins(g)))
            return g->rc = rc;
    }
    rc = rz_quarantine_put(&g->txn, &q, replace, NULL);
    if (rc)
        return g->rc = rc;
    return s_after_record(g);
}

static int s_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                        const char *reason)
{
    s_ing_t *g = out->user;
    s_part(g, ref);
    if (++g->seen <= g->o->skip || !s_match(g, ref))
        return 0;
    g->r->records++;
    return s_quarantine_store(g, ref, reason && *reason ? reason
                                                        : "(no reason given)");
}

/* "/{tenant}/{domain}/{system}" for ev. */
static void s_source(const rz_rt_t *rt, const Ratusz__V1__Event *ev,
                     char *buf, size_t len)
{
    const char *domain = rz_event_data_domain(ev);
    char dom[64] = "raw";
    if (domain) {
        snprintf(dom, sizeof dom, "%s", domain);
    } else if (ev->type && !strncmp(ev->type, RZ_TYPE_PREFIX,
                                    strlen(RZ_TYPE_PREFIX))) {
        const char *d = ev->type + strlen(RZ_TYPE_PREFIX);
        size_t n = strcspn(d, ".");
        if (n && n < sizeof dom)
            snprintf(dom, sizeof dom, "%.*s", (int)n, d);
    }
    size_t o = 0;
    for (const char *p = rt->conf->source; *p && o + 1 < len;) {
        const char *sub = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{tenant}", 8)) {
            sub = ev->tenant ? ev->tenant : "";
            skip = 8;
        } else if (!strncmp(p, "{domain}", 8)) {
            sub = dom;
            skip = 8;
        } else if (!strncmp(p, "{system}", 8)) {
            sub = rt->conf->system;
            skip = 8;
        }
        if (sub) {
            int w = snprintf(buf + o, len - o, "%s", sub);
            o += (size_t)w < len - o ? (size_t)w : len - o - 1;
            p += skip;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
}

void rz_rt_count_tenant(rz_rt_t *rt, const char *tenant)
{
    if (!tenant)
        return;
    pthread_mutex_lock(&rt->status_lock);
    size_t free_slot = RZ_RT_TENANTS;
    for (size_t i = 0; i < RZ_RT_TENANTS; i++) {
        if (!strcmp(rt->tenants[i].code, tenant)) {
            rt->tenants[i].n++;
            pthread_mutex_unlock(&rt->status_lock);
            return;
        }
        if (!rt->tenants[i].code[0] && free_slot == RZ_RT_TENANTS)
            free_slot = i;
    }
    if (free_slot < RZ_RT_TENANTS && strlen(tenant) < 8) {
        snprintf(rt->tenants[free_slot].code, 8, "%s", tenant);
        rt->tenants[free_slot].n = 1;
    }
    pthread_mutex_unlock(&rt->status_lock);
}

static int s_event(rz_out_t *out, const rz_record_ref_t *ref,
                   const Ratusz__V1__Event *ev)
{
    s_ing_t *g = out->user;
    rz_rt_t *rt = g->rt;
    s_part(g, ref);
    if (++g->seen <= g->o->skip || !s_match(g, ref))
        return 0;
    g->r->records++;
    if (g->rc)
        return g->rc;
    char why[400];
    if (rt->teryt) {
        const rz_teryt_unit_t *u = rz_teryt_find(rt->teryt, ev->tenant);
        if (!u || !u->tenant) {
            if (!u)
                snprintf(why, sizeof why,
                         "unknown tenant '%.16s' (not in the TERYT TERC "
                         "register)",
                         ev->tenant ? ev->tenant : "");
            else
                snprintf(why, sizeof why,
                         "tenant '%s' is '%s' (%s), a part of a gmina: use "
                         "the gmina's code",
                         u->code, u->name, u->kind);
            int rc = s_quarantine_store(g, ref, why);
            return rc ? rc : RZ_EINVALEVENT;
        }
    }
    Ratusz__V1__Event copy = *ev;
    char src[RZ_SOURCE_MAX + 64];
    if (!ev->source || !*ev->source) {
        s_source(rt, ev, src, sizeof src);
        copy.source = src;
    }
    if (!copy.time) /* the file's time keeps a re-import identical */
        copy.time = g->in->time ? g->in->time : rz_now_us();
    copy.seq = 0;
    copy.ingest_time = 0;
    copy.principal = (char *)"";
    char check[256];
    if (rz_event_check(&copy, check, sizeof check)) {
        snprintf(why, sizeof why, "invalid event: %s", check);
        int rc = s_quarantine_store(g, ref, why);
        return rc ? rc : RZ_EINVALEVENT;
    }
    size_t size = protobuf_c_message_get_packed_size(&copy.base);
    if (size > rt->conf->max_event) {
        snprintf(why, sizeof why,
                 "event of %zu bytes is larger than max_event (%llu)", size,
                 (unsigned long long)rt->conf->max_event);
        int rc = s_quarantine_store(g, ref, why);
        return rc ? rc : RZ_ETOOBIG;
    }
    if (rt->dry_run) {
        char *json = rz_event_to_json(&copy);
        if (!json)
            return RZ_ENOMEM;
        fprintf(rt->dry_out, "%s\n", json);
        free(json);
        g->r->events++;
        return 0;
    }
    if (size > g->cap) {
        size_t cap = size < 4096 ? 4096 : size;
        uint8_t *nb = realloc(g->buf, cap);
        if (!nb)
            return g->rc = RZ_ENOMEM;
        g->buf = nb;
        g->cap = cap;
    }
    protobuf_c_message_pack(&copy.base, g->buf);
    int rc = s_begin(g);
    if (rc)
        return g->rc = rc;
    const char *origin = g->in->origin ? g->in->origin : "";
    const char *key = ref->key ? ref->key : "";
    rz_orec_t o = {0,          rz_now_us(), ref->line,
                   origin,     strlen(origin), key,
                   strlen(key), g->buf,     size};
    uint64_t seq;
    if ((rc = rz_outbox_put(&g->txn, &o, &seq)))
        return g->rc = rc;
    uint64_t qid = g->cur ? g->cur->id : 0;
    if (s_counts_as_read(g)) {
        g->txn.d_read++;
    } else if (((rc = rz_quarantine_del(&g->txn, qid)) && rc != RZ_ENOTFOUND) ||
               (rc = s_take_twins(g))) {
        return g->rc = rc;
    }
    if (g->cur)
        g->cur->events++;
    if (!g->r->first_seq)
        g->r->first_seq = seq;
    g->r->last_seq = seq;
    g->r->events++;
    rz_rt_count_tenant(rt, copy.tenant);
    return s_after_record(g);
}

typedef int (*s_parse_fn)(void *state, const rz_input_t *in, rz_out_t *out,
                          char *err, size_t err_len);

static int s_run(rz_rt_t *rt, s_parse_fn parse, void *state,
                 const rz_input_t *in, const rz_ingest_opts_t *o,
                 rz_ingest_result_t *r, char *err, size_t err_len)
{
    static const rz_ingest_opts_t none = {0};
    memset(r, 0, sizeof *r);
    if (err_len)
        err[0] = '\0';
    s_ing_t g = {.rt = rt, .in = in, .o = o ? o : &none, .r = r};
    g.out.event = s_event;
    g.out.quarantine = s_quarantine;
    rz_teryt_lend(rt->teryt, &g.out);
    g.out.user = &g;
    pthread_mutex_lock(&rt->ingest_lock);
    int rc = parse(state, in, &g.out, err, err_len);
    if (rc < 0) {
        if (g.rc) { /* the module gave up because the store did */
            r->store_failed = 1;
            snprintf(err, err_len, "outbox: %s", rz_strerror(g.rc));
        }
        if (err_len && !err[0])
            snprintf(err, err_len, "%s", rz_strerror(rc));
        /* a file cut short: the module reported its complete records
         * before failing the input; they are kept (progress not final, so
         * a rerun fails the same way), the rest of a tailed chunk is
         * quarantined whole by its caller, so nothing of it is kept */
        if (g.open && !g.rc && !in->partial && !rt->dry_run) {
            int crc = s_commit(&g, 0);
            if (crc) {
                snprintf(err, err_len, "outbox: %s", rz_strerror(crc));
                r->store_failed = 1;
                rc = crc;
            }
        } else if (g.open) {
            rz_atxn_abort(&g.txn);
        }
    } else if (g.rc) {
        rc = g.rc;
        r->store_failed = 1;
        snprintf(err, err_len, "outbox: %s", rz_strerror(rc));
        if (g.open)
            rz_atxn_abort(&g.txn);
    } else if (!rt->dry_run) {
        /* the progress hook runs even for an input without records, so a
         * file of none is still marked complete */
        if (!g.open && g.o->progress)
            rc = s_begin(&g);
        if (!rc && (rc = s_commit(&g, 1))) {
            snprintf(err, err_len, "outbox: %s", rz_strerror(rc));
            r->store_failed = 1;
        }
    }
    pthread_mutex_unlock(&rt->ingest_lock);
    free(g.buf);
    free(g.part_key);
    return rc < 0 ? rc : 0;
}

static int s_parse_module(void *state, const rz_input_t *in, rz_out_t *out,
                          char *err, size_t err_len)
{
    rz_rt_t *rt = state;
    return rt->mod->parse(rt->mod_state, in, out, err, err_len);
}

int rz_ingest(rz_rt_t *rt, const rz_input_t *in, const rz_ingest_opts_t *o,
              rz_ingest_result_t *r, char *err, size_t err_len)
{
    return s_run(rt, s_parse_module, rt, in, o, r, err, err_len);
}

typedef struct s_reject {
    const char *reason;
} s_reject_t;

static int s_parse_reject(void *state, const rz_input_t *in, rz_out_t *out,
                          char *err, size_t err_len)
{
    const s_reject_t *j = state;
    rz_record_ref_t ref = {in->first_line, "input", NULL, 0};
    return rz_out_quarantine(out, &ref, j->reason);
}

int rz_ingest_reject(rz_rt_t *rt, const rz_input_t *in, const char *reason,
                     const rz_ingest_opts_t *o, rz_ingest_result_t *r,
                     char *err, size_t err_len)
{
    s_reject_t j = {reason};
    return s_run(rt, s_parse_reject, &j, in, o, r, err, err_len);
}

/* ===========================================================================
 * Quarantine retry
 *
 * A record cannot in general be parsed out of its input: a Pabulib vote
 * needs the file's META and PROJECTS sections, a CSV row its header, a
 * GIOŚ value the response envelope, a GML feature member its root element
 * and namespaces. So the first time a record of an input is quarantined,
 * s_keep_input keeps the whole input once in the store (rz_kept_put, keyed
 * by its content), and every quarantined record names it. A retry groups
 * the quarantined records by input and ingests each input again, whole,
 * with the configuration of the moment; s_match pairs what the module
 * reports with the retried records by key and line:
 *
 *   reported record matches      event                  quarantined
 *   a retried record             spooled; the entry     the entry takes the
 *                                deleted, not counted   new reason, keeps
 *                                as read again          its id
 *   the same one again (one      spooled, counted as    quarantined, counted
 *   record now gives two)        a new record read      as a new record read
 *   nothing retried              skipped: it was handled the first time
 *                                (published, or quarantined and not in
 *                                this retry), so nothing is sent again
 *
 * The kept input is deleted once none of its records is quarantined
 * (rz_kept_release). Records quarantined before inputs were kept, and
 * events the broker refused (kept as CloudEvents JSON), are retried from
 * their own bytes.
 */

/* A record the broker refused is kept as the event's CloudEvents JSON;
 * retrying it publishes the event again (after, say, an ACL fix). */
static int s_parse_event_json(void *state, const rz_input_t *in,
                              rz_out_t *out, char *err, size_t err_len)
{
    const rz_qrec_t *q = state;
    rz_record_ref_t ref = {q->line, q->key, in->data, in->len};
    Ratusz__V1__Event *ev = NULL;
    char why[300];
    if (rz_event_from_json((const char *)in->data, in->len, &ev, why,
                           sizeof why)) {
        char reason[400];
        snprintf(reason, sizeof reason, "not a CloudEvent: %s", why);
        return rz_out_quarantine(out, &ref, reason);
    }
    rz_out_event(out, &ref, ev);
    rz_event_free(ev);
    return 0;
}

typedef struct s_ids {
    uint64_t *ids;
    size_t n, cap;
} s_ids_t;

static int s_collect(const rz_qrec_t *r, void *user)
{
    s_ids_t *s = user;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *n = realloc(s->ids, cap * sizeof *n);
        if (!n)
            return 1;
        s->ids = n;
        s->cap = cap;
    }
    s->ids[s->n++] = r->id;
    return 0;
}

/* One line for what became of a retried record; counts it in sum. */
static void s_report(FILE *out, const rz_retry_rec_t *e, int rc,
                     const char *err, rz_retry_sum_t *sum)
{
    unsigned long long id = (unsigned long long)e->id;
    if (e->twin_of) {
        fprintf(out,
                "%llu: ok: the same record as %llu, read again: "
                "counted as a duplicate\n",
                id, (unsigned long long)e->twin_of);
        sum->ok++;
    } else if (e->again) {
        if (e->events)
            fprintf(out,
                    "%llu: still quarantined: %s (%llu event(s) of it "
                    "spooled)\n",
                    id, e->reason, (unsigned long long)e->events);
        else
            fprintf(out, "%llu: still quarantined: %s\n", id, e->reason);
        sum->left++;
    } else if (e->events) {
        fprintf(out, "%llu: ok: %llu event(s) spooled for the broker\n", id,
                (unsigned long long)e->events);
        sum->ok++;
    } else if (rc < 0) {
        fprintf(out, "%llu: still quarantined: %s\n", id, err);
        sum->left++;
    } else {
        fprintf(out,
                "%llu: still quarantined: the module found no record "
                "%s%s%s in it\n",
                id, e->whole ? "" : "'", e->whole ? "" : e->key,
                e->whole ? "" : "'");
        sum->left++;
    }
}

/* Retry the records qs[0..n) of one kept input: ingest it whole again. */
static int s_retry_input(rz_rt_t *rt, rz_qrec_t **qs, size_t n, FILE *out,
                         rz_retry_sum_t *sum)
{
    int rc;
    const char *key = qs[0]->input;
    rz_retry_rec_t *recs = calloc(n, sizeof *recs);
    if (!recs)
        return RZ_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        recs[i].id = qs[i]->id;
        recs[i].key = qs[i]->key;
        recs[i].line = qs[i]->line;
        recs[i].part = qs[i]->part;
        recs[i].whole = qs[i]->whole;
    }
    rz_kept_t *k = rz_kept_get(rt->store, key, &rc);
    char err[512] = "";
    rz_ingest_result_t r = {0};
    if (k) {
        rz_input_t in = {
            .origin = k->origin,
            .name = k->name,
            .data = k->data,
            .len = k->len,
            .content_type = *k->content_type ? k->content_type : NULL,
            .content_id = k->content_id,
            .partial = k->partial,
            .first_line = k->first_line,
            .time = k->time,
        };
        rz_ingest_opts_t o = {.retry = recs, .retry_n = n, .retry_whole = 1};
        rc = rz_ingest(rt, &in, &o, &r, err, sizeof err);
        free(k);
    } else {
        snprintf(err, sizeof err, "its input is not kept: %s", rz_strerror(rc));
        rc = rc < 0 ? rc : RZ_ENOTFOUND;
    }
    for (size_t i = 0; i < n; i++)
        s_report(out, &recs[i], rc, err, sum);
    free(recs);
    return r.store_failed && rc < 0 ? rc : 0;
}

/* Retry one record from its own bytes: an event the broker refused, or a
 * record quarantined before inputs were kept. */
static int s_retry_alone(rz_rt_t *rt, const rz_qrec_t *q, FILE *out,
                         rz_retry_sum_t *sum)
{
    rz_input_t in = {
        .origin = q->origin,
        .name = q->name,
        .data = q->bytes,
        .len = q->len,
        .content_type = *q->content_type ? q->content_type : NULL,
        .content_id = q->content_id,
        /* one record cut out of its input: line numbers go on from
         * where it was, as for a tailed file */
        .partial = 1,
        .first_line = q->line ? q->line : 1,
    };
    rz_retry_rec_t e = {
        .id = q->id, .key = q->key, .line = q->line, .whole = 1};
    rz_ingest_opts_t o = {.retry = &e, .retry_n = 1};
    rz_ingest_result_t r;
    char err[512] = "";
    int rc = q->kind == RZ_QKIND_EVENT
                 ? s_run(rt, s_parse_event_json, (void *)q, &in, &o, &r, err,
                         sizeof err)
                 : rz_ingest(rt, &in, &o, &r, err, sizeof err);
    s_report(out, &e, rc, err, sum);
    return rc < 0 && r.store_failed ? rc : 0;
}

int rz_quarantine_retry(rz_rt_t *rt, uint64_t id, FILE *out,
                        rz_retry_sum_t *sum)
{
    s_ids_t ids = {0};
    int rc = 0;
    memset(sum, 0, sizeof *sum);
    if (id) {
        if (!(ids.ids = malloc(sizeof *ids.ids)))
            return RZ_ENOMEM;
        ids.ids[0] = id;
        ids.n = 1;
    } else if ((rc = rz_quarantine_list(rt->store, 0, 0, s_collect, &ids)) <
               0) {
        free(ids.ids);
        return rc;
    }
    rz_qrec_t **qs = calloc(ids.n ? ids.n : 1, sizeof *qs);
    if (!qs) {
        free(ids.ids);
        return RZ_ENOMEM;
    }
    /* the kept inputs retried, to let go of those no record needs now */
    const char **inputs = calloc(ids.n ? ids.n : 1, sizeof *inputs);
    size_t ninputs = 0;
    if (!inputs) {
        free(qs);
        free(ids.ids);
        return RZ_ENOMEM;
    }
    rc = 0;
    for (size_t i = 0; i < ids.n && !rc; i++) {
        int grc;
        if ((qs[i] = rz_quarantine_get(rt->store, ids.ids[i], &grc)))
            continue;
        fprintf(out, "%llu: %s\n", (unsigned long long)ids.ids[i],
                rz_strerror(grc));
        sum->left++;
        if (grc != RZ_ENOTFOUND)
            rc = grc;
    }
    /* the records of one kept input go together, in id order */
    for (size_t i = 0; i < ids.n && !rc; i++) {
        rz_qrec_t *q = qs[i];
        if (!q)
            continue;
        if (q->kind == RZ_QKIND_RECORD && strcmp(q->module, rt->mod->name)) {
            fprintf(out, "%llu: skipped: quarantined by module '%s', this "
                    "adapter runs '%s'\n", (unsigned long long)q->id,
                    q->module, rt->mod->name);
            sum->left++;
        } else if (q->kind == RZ_QKIND_RECORD && *q->input) {
            size_t n = 0;
            rz_qrec_t **group = calloc(ids.n - i, sizeof *group);
            if (!group) {
                rc = RZ_ENOMEM;
                break;
            }
            for (size_t j = i; j < ids.n; j++) {
                if (j > i && (!qs[j] || qs[j]->kind != RZ_QKIND_RECORD ||
                              strcmp(qs[j]->input, q->input) ||
                              strcmp(qs[j]->module, q->module)))
                    continue;
                group[n++] = qs[j];
                if (j > i)
                    qs[j] = NULL; /* freed with the group */
            }
            rc = s_retry_input(rt, group, n, out, sum);
            for (size_t j = 1; j < n; j++)
                free(group[j]);
            free(group);
            /* the key outlives q for the release below */
            if (!rc && !(inputs[ninputs] = strdup(q->input)))
                rc = RZ_ENOMEM;
            else if (!rc)
                ninputs++;
        } else {
            rc = s_retry_alone(rt, q, out, sum);
        }
        free(q);
        qs[i] = NULL;
    }
    if (!rc && (rc = rz_kept_release(rt->store, inputs, ninputs)) > 0)
        rc = 0;
    for (size_t i = 0; i < ninputs; i++)
        free((char *)inputs[i]);
    free(inputs);
    for (size_t i = 0; i < ids.n; i++)
        free(qs[i]);
    free(qs);
    free(ids.ids);
    return rc;
}
