/* console.c - the read-only web console: sessions, audit and a JSON API */
#include "console.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "access.h"
#include "log.h"
#include "ratusz/core/log.h"
#include "ratusz/errors.h"
#include "ratusz/ratusz.h"
#include "ratusz/wire.h"

/* The page's files, built into the binary (cmake/embed.cmake). */
typedef struct rz__console_asset {
    const char *path;
    const char *type;
    const unsigned char *data;
    size_t len;
} rz__console_asset_t;
extern const rz__console_asset_t rz__console_assets[];

/* ===========================================================================
 * Limits
 */

#define S_SESSIONS 256                       /* logged in at once */
#define S_IDLE_US (30 * INT64_C(60000000))   /* logged out after 30 min idle */
#define S_LIFE_US (12 * INT64_C(3600000000)) /* and after 12 h in any case */
#define S_BODY_MAX 2048                      /* a login form */
#define S_PAGE 100                           /* events per API page */
#define S_REPLY_BYTES (8u << 20) /* a page stops growing at 8 MiB of JSON */
#define S_TOKEN_HEX 64           /* 32 random bytes */
#define S_COOKIE "rz_console"

/* Rates for the Overview: events in per tenant.domain, sampled every
 * S_TICK_S, S_POINTS samples (an hour). Series beyond S_SERIES go to
 * "other", so memory stays bounded whatever the tenants. */
#define S_TICK_S 10
#define S_POINTS 361
#define S_SERIES 64
#define S_SERIES_NAME 80

typedef struct s_session {
    char token[S_TOKEN_HEX + 1]; /* "" = free */
    char principal[RZ_PRINCIPAL_MAX];
    int64_t created, used;
} s_session_t;

/* Failed logins of a name that has a console login: after S_FAILS_MAX in
 * a row it is refused for S_LOCKOUT_US without a password check, which
 * bounds both guessing and the Argon2id work it costs the server. Names
 * without a login cost no check and are not counted. */
#define S_FAIL_NAMES 64
#define S_FAILS_MAX 5
#define S_LOCKOUT_US (60 * INT64_C(1000000))

typedef struct s_fail {
    char name[RZ_PRINCIPAL_MAX]; /* "" = free */
    unsigned fails;
    int64_t until, last;
} s_fail_t;

typedef struct s_series {
    char name[S_SERIES_NAME]; /* "tenant.domain"; "" = free */
    uint64_t total[S_POINTS]; /* events in, cumulative, ring by tick */
} s_series_t;

struct rz_console {
    rz_broker_t *b;
    char *tls_cert, *tls_key;
    int tls;

    pthread_mutex_t lock; /* sessions and series */
    s_session_t sessions[S_SESSIONS];
    s_fail_t fails[S_FAIL_NAMES];
    s_series_t series[S_SERIES + 1]; /* the last is "other" */
    uint64_t tick;                   /* samples taken */
    int64_t tick_time[S_POINTS];     /* unix µs of each sample */

    pthread_t sampler;
    int sampler_started;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    int stopping;
};

/* One request's state, kept in MHD's req_cls between calls. */
typedef struct s_req {
    char body[S_BODY_MAX + 1];
    size_t n;
    int too_big;
} s_req_t;

/* ===========================================================================
 * A growing text buffer for the replies
 */

typedef struct s_buf {
    char *p;
    size_t n, cap;
    int failed;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

static void s_printf(s_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_printf(s_buf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1;
        return;
    }
    s_put(b, tmp, (size_t)n);
}

/* A JSON string (quotes included) of n bytes of s. */
static void s_put_jstr(s_buf_t *b, const char *s, size_t n)
{
    json_t *j = json_stringn_nocheck(s, n);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (t)
        s_puts(b, t);
    else
        b->failed = 1;
    free(t);
    json_decref(j);
}

/* ===========================================================================
 * Replies
 */

static void s_headers(struct MHD_Response *r, const char *type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    /* the page's own files only: no inline script, nothing from outside */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; "
                            "frame-ancestors 'none'; form-action 'self'");
}

/* Queue body (malloc'd, taken) with status; extra header or NULL. */
static int s_send(struct MHD_Connection *conn, unsigned status,
                  const char *type, char *body, const char *hname,
                  const char *hvalue)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return 0;
    }
    s_headers(r, type);
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret == MHD_YES;
}

#define S_JSON "application/json; charset=utf-8"

/* {"error": what} with status. */
static int s_error(struct MHD_Connection *conn, unsigned status,
                   const char *what)
{
    json_t *o = json_pack("{s:s}", "error", what);
    char *t = o ? json_dumps(o, 0) : NULL;
    json_decref(o);
    if (!t)
        return 0;
    return s_send(conn, status, S_JSON, t, NULL, NULL);
}

static int s_json(struct MHD_Connection *conn, s_buf_t *b)
{
    if (b->failed || !b->p) {
        free(b->p);
        return s_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "out of memory building the reply");
    }
    return s_send(conn, MHD_HTTP_OK, S_JSON, b->p, NULL, NULL);
}

static int s_asset(struct MHD_Connection *conn, const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        url = "/index.html";
    for (const rz__console_asset_t *a = rz__console_assets; a->path; a++) {
        if (strcmp(a->path, url) != 0)
            continue;
        struct MHD_Response *r = MHD_create_response_from_buffer(
            a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return 0;
        s_headers(r, a->type);
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret == MHD_YES;
    }
    return s_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* ===========================================================================
 * Who is asking
 */

static void s_address(struct MHD_Connection *conn, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[NI_MAXHOST];
    snprintf(out, len, "?");
    if (!ci || !ci->client_addr)
        return;
    socklen_t sl = ci->client_addr->sa_family == AF_INET6
                       ? sizeof(struct sockaddr_in6)
                       : sizeof(struct sockaddr_in);
    if (getnameinfo(ci->client_addr, sl, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST) == 0)
        snprintf(out, len, "http:%.70s", host);
}

static void s_audit(rz_console_t *c, const char *principal, const char *address,
                    const char *action, const char *command, const char *detail,
                    const char *outcome, uint64_t events,
                    const char *const *subjects, size_t n_subjects)
{
    rz_audit_entry_t e = {.principal = principal,
                          .address = address,
                          .action = action,
                          .command = command,
                          .detail = detail,
                          .outcome = outcome,
                          .events = events,
                          .subjects = subjects,
                          .n_subjects = n_subjects};
    rz_audit_write(c->b->audit, &e);
}

/* The session of the request's cookie: copies its principal into out and
 * returns 1, or 0 (none, expired). Touches the session. */
static int s_session(rz_console_t *c, struct MHD_Connection *conn, char *out,
                     size_t len)
{
    const char *tok =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, S_COOKIE);
    if (!tok || strlen(tok) != S_TOKEN_HEX)
        return 0;
    int64_t now = rz_now_us();
    int found = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < S_SESSIONS; i++) {
        s_session_t *s = &c->sessions[i];
        if (!s->token[0] || sodium_memcmp(s->token, tok, S_TOKEN_HEX) != 0)
            continue;
        if (now - s->used > S_IDLE_US || now - s->created > S_LIFE_US) {
            memset(s, 0, sizeof *s);
            break;
        }
        s->used = now;
        snprintf(out, len, "%s", s->principal);
        found = 1;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* A new session for principal; its token into tok. */
static void s_session_new(rz_console_t *c, const char *principal,
                          char tok[S_TOKEN_HEX + 1])
{
    uint8_t raw[S_TOKEN_HEX / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(tok, S_TOKEN_HEX + 1, raw, sizeof raw);
    int64_t now = rz_now_us();
    pthread_mutex_lock(&c->lock);
    /* a free or expired slot, else the one idle the longest */
    s_session_t *slot = &c->sessions[0];
    for (size_t i = 0; i < S_SESSIONS; i++) {
        s_session_t *s = &c->sessions[i];
        if (!s->token[0] || now - s->used > S_IDLE_US ||
            now - s->created > S_LIFE_US) {
            slot = s;
            break;
        }
        if (s->used < slot->used)
            slot = s;
    }
    memset(slot, 0, sizeof *slot);
    memcpy(slot->token, tok, S_TOKEN_HEX + 1);
    snprintf(slot->principal, sizeof slot->principal, "%s", principal);
    slot->created = slot->used = now;
    pthread_mutex_unlock(&c->lock);
}

static void s_session_end(rz_console_t *c, struct MHD_Connection *conn)
{
    const char *tok =
        MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, S_COOKIE);
    if (!tok || strlen(tok) != S_TOKEN_HEX)
        return;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < S_SESSIONS; i++)
        if (c->sessions[i].token[0] &&
            sodium_memcmp(c->sessions[i].token, tok, S_TOKEN_HEX) == 0)
            memset(&c->sessions[i], 0, sizeof c->sessions[i]);
    pthread_mutex_unlock(&c->lock);
}

/* ===========================================================================
 * Login
 */

static int s_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The value of key in a form body (application/x-www-form-urlencoded),
 * decoded into out. 1 found, 0 not, -1 too long or malformed. */
static int s_form(const char *body, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    const char *p = body;
    while (*p) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t o = 0;
            for (const char *q = p + kl + 1; q < end; q++) {
                int ch = (unsigned char)*q;
                if (ch == '+')
                    ch = ' ';
                else if (ch == '%') {
                    if (end - q < 3)
                        return -1;
                    int hi = s_hexval(q[1]), lo = s_hexval(q[2]);
                    if (hi < 0 || lo < 0)
                        return -1;
                    ch = hi * 16 + lo;
                    q += 2;
                }
                if (ch == 0 || o + 1 >= len)
                    return -1;
                out[o++] = (char)ch;
            }
            out[o] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* The failure record of name, or NULL; with make, a new one (a free slot
 * or the one used the longest ago). Under c->lock. */
static s_fail_t *s_fail_find(rz_console_t *c, const char *name, int make)
{
    s_fail_t *old = &c->fails[0];
    for (size_t i = 0; i < S_FAIL_NAMES; i++) {
        s_fail_t *f = &c->fails[i];
        if (f->name[0] && strcmp(f->name, name) == 0)
            return f;
        if (!f->name[0] || (old->name[0] && f->last < old->last))
            old = f;
    }
    if (!make)
        return NULL;
    memset(old, 0, sizeof *old);
    snprintf(old->name, sizeof old->name, "%s", name);
    return old;
}

/* 1 when name is locked out now. */
static int s_locked(rz_console_t *c, const char *name, int64_t now)
{
    pthread_mutex_lock(&c->lock);
    s_fail_t *f = s_fail_find(c, name, 0);
    int locked = f && f->until > now;
    pthread_mutex_unlock(&c->lock);
    return locked;
}

/* Count a login's outcome for name. */
static void s_login_outcome(rz_console_t *c, const char *name, int ok,
                            int64_t now)
{
    pthread_mutex_lock(&c->lock);
    s_fail_t *f = s_fail_find(c, name, !ok);
    if (f && ok)
        memset(f, 0, sizeof *f);
    else if (f) {
        f->last = now;
        if (++f->fails >= S_FAILS_MAX) {
            f->fails = 0;
            f->until = now + S_LOCKOUT_US;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

static int s_login(rz_console_t *c, struct MHD_Connection *conn,
                   const s_req_t *r, const char *address)
{
    char user[RZ_PRINCIPAL_MAX], pw[256], hash[crypto_pwhash_STRBYTES];
    if (r->too_big)
        return s_error(conn, 413, "the login form is larger than 2 KiB");
    if (s_form(r->body, "user", user, sizeof user) != 1 ||
        s_form(r->body, "password", pw, sizeof pw) != 1 || !user[0])
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "a login needs user and password (form fields)");
    int64_t now = rz_now_us();
    if (s_locked(c, user, now)) {
        sodium_memzero(pw, sizeof pw);
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, user, address, "denied", "CONSOLE LOGIN", "",
                "locked out after failed logins", 0, NULL, 0);
        return s_error(conn, 429,
                       "too many failed logins for this user: try again "
                       "in a minute");
    }
    int known = rz_access_console_hash(user, hash, sizeof hash) == 0;
    int ok = known && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    sodium_memzero(pw, sizeof pw);
    if (known)
        s_login_outcome(c, user, ok, now);
    if (!ok) {
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, user, address, "denied", "CONSOLE LOGIN", "",
                "wrong user or password", 0, NULL, 0);
        return s_error(conn, MHD_HTTP_UNAUTHORIZED, "wrong user or password");
    }
    char tok[S_TOKEN_HEX + 1], cookie[160];
    s_session_new(c, user, tok);
    snprintf(cookie, sizeof cookie,
             S_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", tok,
             c->tls ? "; Secure" : "");
    sodium_memzero(tok, sizeof tok);
    s_audit(c, user, address, "console", "CONSOLE LOGIN", "", "ok", 0, NULL, 0);
    json_t *o = json_pack("{s:s}", "principal", user);
    char *t = o ? json_dumps(o, 0) : NULL;
    json_decref(o);
    if (!t)
        return 0;
    return s_send(conn, MHD_HTTP_OK, S_JSON, t, MHD_HTTP_HEADER_SET_COOKIE,
                  cookie);
}

/* ===========================================================================
 * Events
 */

#define S_AUDIT_SUBJECTS 100

/* One page of events being put into a reply. */
typedef struct s_events {
    rz_console_t *c;
    const rz_access_view_t *view;
    s_buf_t *out;
    rz_arena_t arena;
    uint64_t n, withheld, redacted, personal;
    const char *subjects[S_AUDIT_SUBJECTS];
    size_t n_subjects;
    int raw; /* /api/event: the CloudEvent alone */
} s_events_t;

static int s_event(uint64_t seq, const uint8_t *ev, size_t len, void *user)
{
    s_events_t *e = user;
    char topic[RZ_TOPIC_MAX + 1];
    int tl = rz_access_event_topic(ev, len, topic, sizeof topic);
    if (tl < 0 || !rz_access_view_topic(e->view, topic, (size_t)tl)) {
        e->withheld++;
        return 0;
    }
    const uint8_t *bytes = ev;
    size_t n = len;
    if (rz_redact_needed(ev, len)) {
        if (!e->view->personal) {
            int rc = rz_redact_event(&e->c->b->redact_key, ev, len, &e->arena,
                                     &bytes, &n);
            if (rc < 0) { /* fail closed */
                e->withheld++;
                return 0;
            }
            e->redacted += rc == 1;
        } else {
            const uint8_t *subj;
            size_t sn;
            e->personal++;
            if (e->n_subjects < S_AUDIT_SUBJECTS &&
                rz_wire_find(ev, len, 4, &subj, &sn) == 1) {
                char *dup = rz_arena_strndup(&e->arena, (const char *)subj, sn);
                if (dup)
                    e->subjects[e->n_subjects++] = dup;
            }
        }
    }
    Ratusz__V1__Event *m = ratusz__v1__event__unpack(NULL, n, bytes);
    char *json = m ? rz_event_to_json(m) : NULL;
    if (m)
        ratusz__v1__event__free_unpacked(m, NULL);
    if (!json) {
        e->withheld++;
        return 0;
    }
    if (e->raw) {
        s_puts(e->out, json);
    } else {
        s_printf(e->out, "%s{\"seq\":%" PRIu64 ",\"topic\":", e->n ? "," : "",
                 seq);
        s_put_jstr(e->out, topic, (size_t)tl);
        s_puts(e->out, ",\"event\":");
        s_puts(e->out, json);
        s_puts(e->out, "}");
    }
    free(json);
    e->n++;
    /* a page ends early rather than grow past S_REPLY_BYTES; its cursor
     * goes on after this event */
    return e->out->failed || e->out->n >= S_REPLY_BYTES ? 1 : 0;
}

/* The heads: what LMDB holds and what was acked (the journal may hold
 * acked events LMDB does not have yet). */
static void s_heads(rz_console_t *c, s_buf_t *out)
{
    uint64_t stored = rz_store_head(c->b->store);
    uint64_t acked = atomic_load(&c->b->acked);
    s_printf(out, "\"stored_head\":%" PRIu64 ",\"acked_head\":%" PRIu64, stored,
             acked > stored ? acked : stored);
}

static void s_hex(const uint8_t *p, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A cursor from hex; 0 and *n = 0 for none, -1 malformed. */
static int s_unhex(const char *s, uint8_t *out, size_t *n)
{
    *n = 0;
    if (!s || !*s)
        return 0;
    size_t l = strlen(s);
    if (l % 2 || l / 2 > RZ_CURSOR_MAX)
        return -1;
    for (size_t i = 0; i < l / 2; i++) {
        int hi = s_hexval(s[2 * i]), lo = s_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *n = l / 2;
    return 0;
}

/* A decimal int64 argument; 0 when absent, -1 malformed. */
static int s_arg_i64(struct MHD_Connection *conn, const char *key, int64_t *v)
{
    const char *s =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    *v = 0;
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < 0)
        return -1;
    *v = x;
    return 0;
}

/* The audit of an event read: "read-personal" when personal data went out
 * unredacted, else "console". */
static void s_audit_events(rz_console_t *c, const char *who,
                           const char *address, const char *command,
                           const char *detail, const s_events_t *e)
{
    s_audit(c, who, address, e->personal ? "read-personal" : "console", command,
            detail, "ok", e->n, e->subjects, e->n_subjects);
    if (e->redacted)
        atomic_fetch_add(&c->b->redacted, e->redacted);
    rz_stats_read(c->b->stats, e->n);
}

/* One page of q as the console answers it: {"events":[...], then extra
 * (NULL, or members ending in a comma), "next", "withheld", "redacted" and
 * the heads}, audited as command with detail; "read-personal" when
 * personal data went out unredacted, or when personal is set (a number
 * that a cleared principal typed). */
static int s_page(rz_console_t *c, struct MHD_Connection *conn, const char *who,
                  const rz_access_view_t *view, const char *address,
                  const char *command, const char *detail,
                  const rz_store_query_t *q, const char *extra, int personal)
{
    uint8_t next[RZ_CURSOR_MAX];
    size_t next_len = 0;
    s_buf_t out = {0};
    s_events_t e = {.c = c, .view = view, .out = &out};
    rz_arena_init(&e.arena);
    s_puts(&out, "{\"events\":[");
    int rc = rz_store_query(c->b->store, q, s_event, &e, next, &next_len);
    if (rc < 0) {
        rz_arena_close(&e.arena);
        free(out.p);
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       rc == RZ_EBADCURSOR
                           ? "after is not a cursor of this query"
                           : rz_strerror(rc));
    }
    char hex[2 * RZ_CURSOR_MAX + 1];
    s_hex(next, next_len, hex);
    s_printf(&out,
             "],%s\"next\":\"%s\",\"withheld\":%" PRIu64
             ",\"redacted\":%" PRIu64 ",",
             extra ? extra : "", hex, e.withheld, e.redacted);
    s_heads(c, &out);
    s_puts(&out, "}");
    if (personal && !e.personal)
        e.personal = 1;
    s_audit_events(c, who, address, command, detail, &e);
    rz_arena_close(&e.arena);
    return s_json(conn, &out);
}

static int s_query(rz_console_t *c, struct MHD_Connection *conn,
                   const char *who, const rz_access_view_t *view,
                   const char *address, int by_subject)
{
    const char *key = by_subject ? "subject" : "prefix";
    const char *val =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    const char *after =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *command = by_subject ? "CONSOLE TIMELINE" : "CONSOLE TOPIC";
    char detail[300];
    int64_t since = 0, until = 0;
    uint8_t cur[RZ_CURSOR_MAX];
    size_t cur_len = 0;

    if (!val)
        val = "";
    if (by_subject && !*val)
        return s_error(conn, MHD_HTTP_BAD_REQUEST, "subject is empty");
    if (strlen(val) > RZ_TOPIC_MAX)
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "subject or prefix longer than 256 bytes");
    if (s_arg_i64(conn, "since", &since) < 0 ||
        s_arg_i64(conn, "until", &until) < 0)
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "since and until are unix microseconds");
    if (s_unhex(after, cur, &cur_len) < 0)
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "after is not a cursor of this console");
    snprintf(detail, sizeof detail, "%s=%.250s", key, val);
    if (!by_subject && rz_access_view_prefix(view, val) < 0) {
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, who, address, "denied", command, detail,
                "outside the read grants", 0, NULL, 0);
        return s_error(conn, MHD_HTTP_FORBIDDEN,
                       "this topic prefix is outside your read grants");
    }

    rz_store_query_t q = {by_subject ? val : NULL,
                          by_subject ? NULL : val,
                          since,
                          until,
                          S_PAGE,
                          cur_len ? cur : NULL,
                          cur_len,
                          NULL};
    return s_page(c, conn, who, view, address, command, detail, &q, NULL, 0);
}

/* What the Timeline's search box holds when it is not a subject: a
 * pseudonym, or a PESEL, NIP or REGON (digits only) that a principal with
 * clearance may have turned into its pseudonym here. */
enum { S_SEARCH_PSEUDONYM = 1, S_SEARCH_NUMBER = 2 };

static int s_search_kind(const char *q)
{
    if (q[0] == '~')
        return S_SEARCH_PSEUDONYM;
    size_t n = strlen(q);
    if (n < 9 || n > 14)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (q[i] < '0' || q[i] > '9')
            return 0;
    return S_SEARCH_NUMBER;
}

/* GET /api/pseudonym?q=...&after=...: every event holding a pseudonym, in
 * seq order, under the reader's grants and redaction. The audit names the
 * pseudonym, never the number typed. */
static int s_pseudonym(rz_console_t *c, struct MHD_Connection *conn,
                       const char *who, const rz_access_view_t *view,
                       const char *address)
{
    const char *val =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "q");
    const char *after =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *command = "CONSOLE PSEUDONYM";
    char pseud[28], why[160], detail[64];
    uint8_t raw[RZ_PSEUDONYM_RAW];
    uint8_t cur[RZ_CURSOR_MAX];
    size_t cur_len = 0;

    int kind = val ? s_search_kind(val) : 0;
    if (!kind)
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "q is a pseudonym ('~' and 26 letters a-z, 2-7), or a "
                       "PESEL, NIP or REGON (9 to 14 digits)");
    if (kind == S_SEARCH_NUMBER && !view->personal) {
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, who, address, "denied", command, "number",
                "no personal data clearance", 0, NULL, 0);
        json_t *o = json_pack("{s:s,s:s}", "error",
                              "without personal data clearance you may "
                              "search by pseudonym only (~...)",
                              "code", "pseudonym_only");
        char *t = o ? json_dumps(o, 0) : NULL;
        json_decref(o);
        return t ? s_send(conn, MHD_HTTP_FORBIDDEN, S_JSON, t, NULL, NULL) : 0;
    }
    if (kind == S_SEARCH_NUMBER) {
        rz_redact_pseudonym(&c->b->redact_key, val, strlen(val), pseud);
        rz_redact_pseudonym_raw(&c->b->redact_key, val, strlen(val), raw);
    } else {
        if (rz_redact_pseudonym_parse(val, raw, why, sizeof why) < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "malformed pseudonym: %s", why);
            return s_error(conn, MHD_HTTP_BAD_REQUEST, msg);
        }
        snprintf(pseud, sizeof pseud, "%s", val);
    }
    if (s_unhex(after, cur, &cur_len) < 0)
        return s_error(conn, MHD_HTTP_BAD_REQUEST,
                       "after is not a cursor of this console");
    snprintf(detail, sizeof detail, "pseudonym=%s", pseud);

    rz_store_query_t q = {.limit = S_PAGE,
                          .after = cur_len ? cur : NULL,
                          .after_len = cur_len,
                          .pseudonym = raw};
    char extra[64];
    snprintf(extra, sizeof extra, "\"pseudonym\":\"%s\",", pseud);
    return s_page(c, conn, who, view, address, command, detail, &q, extra,
                  kind == S_SEARCH_NUMBER);
}

static int s_event_get(rz_console_t *c, struct MHD_Connection *conn,
                       const char *who, const rz_access_view_t *view,
                       const char *address)
{
    int64_t seq = 0;
    if (s_arg_i64(conn, "seq", &seq) < 0 || seq <= 0)
        return s_error(conn, MHD_HTTP_BAD_REQUEST, "seq is a positive number");
    char detail[48];
    snprintf(detail, sizeof detail, "seq=%lld", (long long)seq);
    s_buf_t out = {0};
    s_events_t e = {.c = c, .view = view, .out = &out, .raw = 1};
    rz_arena_init(&e.arena);
    int rc = rz_store_get(c->b->store, (uint64_t)seq, s_event, &e);
    s_audit_events(c, who, address, "CONSOLE EVENT", detail, &e);
    rz_arena_close(&e.arena);
    if (rc == RZ_ENOTFOUND || (rc >= 0 && e.withheld)) {
        free(out.p);
        /* the same answer for both: a grant does not reveal what exists */
        return s_error(conn, MHD_HTTP_NOT_FOUND,
                       "no event with this seq that you may read");
    }
    if (rc < 0 || out.failed || !out.p) {
        free(out.p);
        return s_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       rc < 0 ? rz_strerror(rc) : "out of memory");
    }
    return s_send(conn, MHD_HTTP_OK, "application/cloudevents+json", out.p,
                  NULL, NULL);
}

/* ===========================================================================
 * Overview: stats and the last hour's rates
 */

/* Events in per tenant.domain now, added into the ring at this tick. */
static void s_sample(rz_console_t *c)
{
    Ratusz__V1__Stats s;
    ratusz__v1__stats__init(&s);
    if (rz_stats_snapshot(c->b->stats, &s) < 0)
        return;
    pthread_mutex_lock(&c->lock);
    size_t at = c->tick % S_POINTS;
    for (size_t i = 0; i <= S_SERIES; i++)
        c->series[i].total[at] = 0;
    for (size_t i = 0; i < s.n_counters; i++) {
        const Ratusz__V1__Counter *k = s.counters[i];
        char name[S_SERIES_NAME];
        snprintf(name, sizeof name, "%s.%s", k->tenant, k->domain);
        s_series_t *se = &c->series[S_SERIES]; /* "other" */
        for (size_t j = 0; j < S_SERIES; j++) {
            if (!c->series[j].name[0]) {
                /* a new series starts at this tick: earlier points 0 */
                memset(&c->series[j], 0, sizeof c->series[j]);
                snprintf(c->series[j].name, S_SERIES_NAME, "%s", name);
            }
            if (strcmp(c->series[j].name, name) == 0) {
                se = &c->series[j];
                break;
            }
        }
        se->total[at] += k->events_in;
    }
    snprintf(c->series[S_SERIES].name, S_SERIES_NAME, "other");
    c->tick_time[at] = rz_now_us();
    c->tick++;
    pthread_mutex_unlock(&c->lock);
    rz_stats_snapshot_free(&s);
}

static void *s_sampler(void *arg)
{
    rz_console_t *c = arg;
    pthread_mutex_lock(&c->stop_lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->stop_lock);
        s_sample(c);
        pthread_mutex_lock(&c->stop_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += S_TICK_S;
        while (!c->stopping &&
               pthread_cond_timedwait(&c->stop_cond, &c->stop_lock, &ts) !=
                   ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&c->stop_lock);
    return NULL;
}

/* "history": {"step_s":10,"times":[...],"series":[{"name":..,"rate":[..]}]}
 * with the n sample times and n - 1 rates: events per second between
 * consecutive samples. */
static void s_history(rz_console_t *c, s_buf_t *out)
{
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->tick < S_POINTS ? c->tick : S_POINTS;
    uint64_t first = c->tick - n;
    s_printf(out, "\"history\":{\"step_s\":%d,\"times\":[", S_TICK_S);
    for (uint64_t t = first; t < c->tick; t++)
        s_printf(out, "%s%lld", t > first ? "," : "",
                 (long long)c->tick_time[t % S_POINTS]);
    s_puts(out, "],\"series\":[");
    int any = 0;
    for (size_t i = 0; i <= S_SERIES; i++) {
        const s_series_t *se = &c->series[i];
        if (!se->name[0])
            continue;
        s_puts(out, any ? ",{\"name\":" : "{\"name\":");
        s_put_jstr(out, se->name, strlen(se->name));
        s_puts(out, ",\"rate\":[");
        for (uint64_t t = first + 1; t < c->tick; t++) {
            uint64_t a = se->total[(t - 1) % S_POINTS],
                     b = se->total[t % S_POINTS];
            double dt = (double)(c->tick_time[t % S_POINTS] -
                                 c->tick_time[(t - 1) % S_POINTS]) /
                        1e6;
            double r = b > a && dt > 0 ? (double)(b - a) / dt : 0;
            s_printf(out, "%s%.3f", t > first + 1 ? "," : "", r);
        }
        s_puts(out, "]}");
        any = 1;
    }
    s_puts(out, "]}");
    pthread_mutex_unlock(&c->lock);
}

static int s_overview(rz_console_t *c, struct MHD_Connection *conn,
                      const char *who, const rz_access_view_t *view,
                      const char *address)
{
    if (!view->stats) {
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, who, address, "denied", "CONSOLE OVERVIEW", "",
                "no stats grant", 0, NULL, 0);
        return s_error(conn, MHD_HTTP_FORBIDDEN,
                       "the Overview needs the stats admin grant");
    }
    Ratusz__V1__Stats s;
    if (rz_broker_stats(c->b, &s) < 0)
        return s_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "statistics unavailable");
    char *json = rz_message_to_json(&s.base);
    rz_broker_stats_free(&s);
    if (!json)
        return s_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    s_buf_t out = {0};
    s_puts(&out, "{\"stats\":");
    s_puts(&out, json);
    free(json);
    s_printf(&out, ",\"now\":%lld,\"status\":", (long long)rz_now_us());
    const char *st = rz_broker_status(c->b);
    s_put_jstr(&out, st, strlen(st));
    s_puts(&out, ",");
    s_heads(c, &out);
    s_puts(&out, ",");
    s_history(c, &out);
    s_puts(&out, "}");
    s_audit(c, who, address, "console", "CONSOLE OVERVIEW", "", "ok", 0, NULL,
            0);
    return s_json(conn, &out);
}

/* ,"classes":[{"class":..,"records":..,"total":..,"example":..,"last":..}]
 * of a component: its quarantine by class of reason, as reported. */
static void s_quarantine_classes(s_buf_t *out, const Ratusz__V1__Component *k)
{
    s_puts(out, ",\"classes\":[");
    for (size_t j = 0; j < k->n_quarantine; j++) {
        const Ratusz__V1__QuarantineReason *q = k->quarantine[j];
        s_puts(out, j ? ",{\"class\":" : "{\"class\":");
        s_put_jstr(out, q->class_, strlen(q->class_));
        s_printf(out, ",\"records\":%llu,\"total\":%llu,\"example\":",
                 (unsigned long long)q->records, (unsigned long long)q->total);
        s_put_jstr(out, q->example, strlen(q->example));
        s_printf(out, ",\"last\":%lld}", (long long)q->last);
    }
    s_puts(out, "]");
}

/* What each component reports of its quarantine: the metrics whose name
 * holds "quarantin", its classes of reason and its status line. */
static int s_quarantine(rz_console_t *c, struct MHD_Connection *conn,
                        const char *who, const rz_access_view_t *view,
                        const char *address)
{
    if (!view->stats) {
        atomic_fetch_add(&c->b->denied, 1);
        s_audit(c, who, address, "denied", "CONSOLE QUARANTINE", "",
                "no stats grant", 0, NULL, 0);
        return s_error(conn, MHD_HTTP_FORBIDDEN,
                       "the quarantine view needs the stats admin grant");
    }
    Ratusz__V1__Stats s;
    ratusz__v1__stats__init(&s);
    if (rz_stats_snapshot(c->b->stats, &s) < 0)
        return s_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "statistics unavailable");
    s_buf_t out = {0};
    s_puts(&out, "{\"components\":[");
    for (size_t i = 0; i < s.n_components; i++) {
        const Ratusz__V1__Component *k = s.components[i];
        s_puts(&out, i ? ",{\"name\":" : "{\"name\":");
        s_put_jstr(&out, k->name, strlen(k->name));
        s_puts(&out, ",\"kind\":");
        s_put_jstr(&out, k->kind, strlen(k->kind));
        s_puts(&out, ",\"status\":");
        s_put_jstr(&out, k->status, strlen(k->status));
        s_puts(&out, ",\"detail\":");
        s_put_jstr(&out, k->detail, strlen(k->detail));
        s_printf(&out, ",\"reported\":%lld,\"quarantine\":{",
                 (long long)k->reported);
        int any = 0;
        for (size_t j = 0; j < k->n_metrics; j++) {
            const Ratusz__V1__Metric *m = k->metrics[j];
            if (!strstr(m->name, "quarantin"))
                continue;
            if (any)
                s_puts(&out, ",");
            s_put_jstr(&out, m->name, strlen(m->name));
            s_printf(&out, ":%.0f", m->value);
            any = 1;
        }
        s_puts(&out, "}");
        s_quarantine_classes(&out, k);
        s_puts(&out, "}");
    }
    s_puts(&out, "]}");
    rz_stats_snapshot_free(&s);
    s_audit(c, who, address, "console", "CONSOLE QUARANTINE", "", "ok", 0, NULL,
            0);
    return s_json(conn, &out);
}

static int s_me(struct MHD_Connection *conn, const char *who,
                const rz_access_view_t *view, int tls)
{
    json_t *reads = json_array();
    for (size_t i = 0; reads && i < view->nreads; i++)
        json_array_append_new(reads, json_string(view->reads[i]));
    json_t *o = json_pack("{s:s,s:b,s:b,s:b,s:o,s:s}", "principal", who,
                          "personal_data", view->personal, "stats", view->stats,
                          "tls", tls, "read", reads ? reads : json_array(),
                          "version", RZ_VERSION);
    char *t = o ? json_dumps(o, 0) : NULL;
    json_decref(o);
    if (!t)
        return 0;
    return s_send(conn, MHD_HTTP_OK, S_JSON, t, NULL, NULL);
}

/* ===========================================================================
 * Routing
 */

static int s_route(void *user, struct MHD_Connection *conn, const char *url,
                   const char *method, const char *upload_data,
                   size_t *upload_data_size, void **req_cls)
{
    rz_console_t *c = user;
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
              strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (post) {
        /* the body arrives over several calls; answer after the last */
        s_req_t *r = *req_cls;
        if (!r) {
            if (!(r = calloc(1, sizeof *r)))
                return 0;
            *req_cls = r;
            return 1;
        }
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            if (r->n + n > S_BODY_MAX)
                r->too_big = 1;
            else {
                memcpy(r->body + r->n, upload_data, n);
                r->n += n;
            }
            *upload_data_size = 0;
            return 1;
        }
    } else if (!get) {
        return s_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    }

    if (strncmp(url, "/api/", 5) != 0) {
        if (!get)
            return s_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "method not allowed");
        return s_asset(conn, url);
    }

    char address[80], who[RZ_PRINCIPAL_MAX];
    s_address(conn, address, sizeof address);
    if (strcmp(url, "/api/login") == 0) {
        if (!post)
            return s_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "log in with POST");
        return s_login(c, conn, *req_cls, address);
    }
    if (!s_session(c, conn, who, sizeof who))
        return s_error(conn, MHD_HTTP_UNAUTHORIZED, "not logged in");
    if (strcmp(url, "/api/logout") == 0) {
        if (!post)
            return s_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "log out with POST");
        s_session_end(c, conn);
        s_audit(c, who, address, "console", "CONSOLE LOGOUT", "", "ok", 0, NULL,
                0);
        return s_send(conn, MHD_HTTP_OK, S_JSON, strdup("{}"),
                      MHD_HTTP_HEADER_SET_COOKIE,
                      S_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
                               "SameSite=Strict");
    }
    if (!get)
        return s_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "the console's reads are GET");
    /* the grants as they are now: a reload applies at the next request */
    rz_access_view_t view;
    if (rz_access_view(who, &view) < 0) {
        s_session_end(c, conn);
        return s_error(conn, MHD_HTTP_UNAUTHORIZED,
                       "this login is no longer in the principals file");
    }
    int rc;
    if (strcmp(url, "/api/me") == 0)
        rc = s_me(conn, who, &view, c->tls);
    else if (strcmp(url, "/api/overview") == 0)
        rc = s_overview(c, conn, who, &view, address);
    else if (strcmp(url, "/api/timeline") == 0)
        rc = s_query(c, conn, who, &view, address, 1);
    else if (strcmp(url, "/api/topic") == 0)
        rc = s_query(c, conn, who, &view, address, 0);
    else if (strcmp(url, "/api/event") == 0)
        rc = s_event_get(c, conn, who, &view, address);
    else if (strcmp(url, "/api/quarantine") == 0)
        rc = s_quarantine(c, conn, who, &view, address);
    else if (strcmp(url, "/api/pseudonym") == 0)
        rc = s_pseudonym(c, conn, who, &view, address);
    else
        rc = s_error(conn, MHD_HTTP_NOT_FOUND, "no such API");
    rz_access_view_free(&view);
    return rc;
}

static void s_done(void *user, void **req_cls)
{
    (void)user;
    free(*req_cls);
    *req_cls = NULL;
}

/* ===========================================================================
 * Life
 */

int rz__console_local(const char *hp)
{
    char host[64];
    const char *colon = strrchr(hp, ':');
    size_t n = colon ? (size_t)(colon - hp) : 0;
    if (!colon || n == 0 || n >= sizeof host)
        return 0; /* ":PORT" is every address */
    memcpy(host, hp, n);
    host[n] = '\0';
    if (!strcmp(host, "localhost") || !strcmp(host, "[::1]"))
        return 1;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return 0;
}

/* A PEM file's text, malloc'd; refuses a key others may read. */
static int s_pem(const char *path, int secret, char **out, char *err,
                 size_t err_len)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        rzc_errf(err, err_len, "console: cannot read %s: %s", path,
                 strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    if (secret && (st.st_mode & 077)) {
        close(fd);
        rzc_errf(err, err_len,
                 "console: %s may be read by others (chmod 600 it)", path);
        return RZ_ECONFIG;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > 1 << 20) {
        close(fd);
        rzc_errf(err, err_len,
                 "console: %s is not a PEM file (empty, too "
                 "large or not a file)",
                 path);
        return RZ_ECONFIG;
    }
    char *t = malloc((size_t)st.st_size + 1);
    ssize_t n = t ? read(fd, t, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(t);
        rzc_errf(err, err_len, "console: cannot read %s", path);
        return RZ_EIO;
    }
    t[n] = '\0';
    if (!strstr(t, "-----BEGIN ")) {
        free(t);
        rzc_errf(err, err_len, "console: %s holds no PEM block", path);
        return RZ_ECONFIG;
    }
    *out = t;
    return 0;
}

static void s_free(rz_console_t *c)
{
    if (c->tls_key)
        sodium_memzero(c->tls_key, strlen(c->tls_key));
    free(c->tls_cert);
    free(c->tls_key);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->stop_lock);
    pthread_cond_destroy(&c->stop_cond);
    free(c);
}

int rz_console_new(rz_console_t **out, rz_broker_t *b, char *err,
                   size_t err_len)
{
    const rz_config_t *cfg = b->cfg;
    int rc;
    *out = NULL;
    if (!*cfg->metrics || !strcmp(cfg->metrics, "off")) {
        rzc_errf(err, err_len,
                 "console: it is served on the metrics address, "
                 "which is off");
        return RZ_ECONFIG;
    }
    if (!rz_access_enabled()) {
        rzc_errf(err, err_len,
                 "console: needs security on (server_key and principals): "
                 "its logins are principals with console_password");
        return RZ_ECONFIG;
    }
    if (!*cfg->console_tls_cert != !*cfg->console_tls_key) {
        rzc_errf(err, err_len,
                 "console: give console_tls_cert and console_tls_key together");
        return RZ_ECONFIG;
    }
    if (!*cfg->console_tls_cert && !rz__console_local(cfg->metrics)) {
        rzc_errf(err, err_len,
                 "console: refusing to serve logins on %s without TLS: set "
                 "console_tls_cert and console_tls_key, or listen on loopback",
                 cfg->metrics);
        return RZ_ECONFIG;
    }
    if (sodium_init() < 0) {
        rzc_errf(err, err_len, "console: libsodium would not start");
        return RZ_EIO;
    }
    rz_console_t *c = calloc(1, sizeof *c);
    if (!c) {
        rzc_errf(err, err_len, "console: out of memory");
        return RZ_ENOMEM;
    }
    c->b = b;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->stop_lock, NULL);
    pthread_cond_init(&c->stop_cond, NULL);
    if (*cfg->console_tls_cert) {
        if ((rc = s_pem(cfg->console_tls_cert, 0, &c->tls_cert, err, err_len)) <
                0 ||
            (rc = s_pem(cfg->console_tls_key, 1, &c->tls_key, err, err_len)) <
                0) {
            s_free(c);
            return rc;
        }
        c->tls = 1;
    }
    if ((rc = pthread_create(&c->sampler, NULL, s_sampler, c)) != 0) {
        rzc_errf(err, err_len, "console: cannot start a thread: %s",
                 strerror(rc));
        s_free(c);
        return -rc;
    }
    c->sampler_started = 1;
    *out = c;
    return 0;
}

void rz_console_extra(rz_console_t *c, rz_metrics_extra_t *x)
{
    memset(x, 0, sizeof *x);
    x->route = s_route;
    x->done = s_done;
    x->user = c;
    x->tls_cert = c->tls_cert;
    x->tls_key = c->tls_key;
}

void rz_console_destroy(rz_console_t **pc)
{
    if (!pc || !*pc)
        return;
    rz_console_t *c = *pc;
    if (c->sampler_started) {
        pthread_mutex_lock(&c->stop_lock);
        c->stopping = 1;
        pthread_cond_signal(&c->stop_cond);
        pthread_mutex_unlock(&c->stop_lock);
        pthread_join(c->sampler, NULL);
    }
    sodium_memzero(c->sessions, sizeof c->sessions);
    s_free(c);
    *pc = NULL;
}
