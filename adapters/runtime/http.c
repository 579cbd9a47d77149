/* http.c - the HTTP source: a POSTed body is one input (libmicrohttpd, on
 * its own thread)
 *
 *   POST /any/path   202  every record is an event in the outbox
 *                    422  some records were quarantined (the others are
 *                         in the outbox: do not send it again)
 *                    400  the module cannot read the body at all
 *                    401  no bearer token, or not one of http_tokens
 *                    413  larger than http_max_body
 *                    503  the outbox cannot take it now: send it again
 *   GET /stats       200  the adapter's counters as JSON
 *
 * Answers are JSON objects: {"records":N,"events":N,"quarantined":N} or
 * {"error":"..."}. A 202 is sent only after the records are committed.
 *
 * Clients: when http_tokens lists any, every request (GET /stats too)
 * carries "Authorization: Bearer TOKEN". Only the SHA-256 of each token is
 * configured; the presented token is hashed and compared with every entry
 * in constant time, before any of the body is read. The client's name
 * goes into the origin of its records ("http POST /air from 10.0.0.5 by
 * airly"), which the outbox and the quarantine keep.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sources.h"

#define S_HASH_PREFIX "sha256:"
#define S_HASH_LEN 32
#define S_CLIENT_MAX 64
#define S_REALM "Bearer realm=\"ratusz-adapter\""

typedef struct s_client {
    const char *name; /* borrowed from the configuration */
    unsigned char hash[S_HASH_LEN];
} s_client_t;

struct rz_http {
    rz_rt_t *rt;
    struct MHD_Daemon *daemon;
    s_client_t *clients; /* NULL when requests are not checked */
    size_t nclients;
};

typedef struct s_req {
    uint8_t *body;
    size_t len, cap;
    int too_big;
    int denied;         /* answered 401 on the first call */
    const char *client; /* who sent it (NULL: tokens are off) */
} s_req_t;

/* ===========================================================================
 * Configuration: the address, the tokens, the policy
 */

/* "PORT", ":PORT" (both 127.0.0.1) or "HOST:PORT" with an IPv4 HOST or
 * "localhost". 0 or RZ_ECONFIG with err. */
static int s_parse_listen(const char *listen, struct sockaddr_in *sa, char *err,
                          size_t err_len)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(listen, ':');
    const char *p = colon ? colon + 1 : listen;
    char host[64] = "127.0.0.1";
    if (colon && colon > listen) {
        if ((size_t)(colon - listen) >= sizeof host)
            goto bad;
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        if (!strcmp(host, "localhost"))
            snprintf(host, sizeof host, "127.0.0.1");
    }
    unsigned long port = 0;
    size_t digits = 0;
    for (; p[digits] && digits < 6; digits++) {
        if (!isdigit((unsigned char)p[digits]))
            goto bad;
        port = port * 10 + (unsigned long)(p[digits] - '0');
    }
    if (!digits || p[digits] || port == 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        goto bad;
    sa->sin_port = htons((uint16_t)port);
    return 0;
bad:
    snprintf(err, err_len,
             "http '%s': want PORT (on 127.0.0.1) or HOST:PORT with an IPv4 "
             "address, e.g. 8088 or 0.0.0.0:8088",
             listen);
    return RZ_ECONFIG;
}

static int s_loopback(const struct sockaddr_in *sa)
{
    return (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
}

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "sha256:<64 hex>" into out. 0 or -1. */
static int s_parse_hash(const char *text, unsigned char out[S_HASH_LEN])
{
    size_t pl = strlen(S_HASH_PREFIX);
    if (strncmp(text, S_HASH_PREFIX, pl) || strlen(text + pl) != 2 * S_HASH_LEN)
        return -1;
    for (size_t i = 0; i < S_HASH_LEN; i++) {
        int hi = s_hexval((unsigned char)text[pl + 2 * i]);
        int lo = s_hexval((unsigned char)text[pl + 2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int s_client_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > S_CLIENT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._@-", name[i]))
            return 0;
    return 1;
}

/* "FILE:LINE: http_tokens.NAME" or "--http-tokens NAME" */
static void s_where(const rz_conf_map_t *m, size_t i, const char *file,
                    char *buf, size_t len)
{
    if (m->lines && m->lines[i])
        snprintf(buf, len, "%s:%u: http_tokens.%s", file, m->lines[i],
                 m->keys[i]);
    else
        snprintf(buf, len, "--http-tokens %s", m->keys[i]);
}

int rz_http_check_conf(const rz_rt_conf_t *conf, const char *file, char *err,
                       size_t err_len)
{
    const char *f = file ? file : "command line";
    const rz_conf_map_t *m = &conf->http_tokens;
    struct sockaddr_in sa;
    char why[300], where[300];
    if (s_parse_listen(conf->http, &sa, why, sizeof why)) {
        snprintf(err, err_len, "%s: %s", f, why);
        return RZ_ECONFIG;
    }
    for (size_t i = 0; i < m->n; i++) {
        unsigned char h[S_HASH_LEN], other[S_HASH_LEN];
        s_where(m, i, f, where, sizeof where);
        if (!s_client_name_ok(m->keys[i])) {
            snprintf(err, err_len,
                     "%s: a client name is 1-%d of A-Z a-z 0-9 . _ @ -", where,
                     S_CLIENT_MAX);
            return RZ_ECONFIG;
        }
        if (s_parse_hash(m->values[i], h)) {
            snprintf(err, err_len,
                     "%s: want \"sha256:\" and 64 hex digits, the hash of "
                     "the token (`printf %%s TOKEN | ratusz-adapter "
                     "--hash-token`), never the token itself",
                     where);
            return RZ_ECONFIG;
        }
        for (size_t j = 0; j < i; j++)
            if (!s_parse_hash(m->values[j], other) &&
                !memcmp(h, other, sizeof h)) {
                snprintf(err, err_len,
                         "%s: the same token as client '%s': give each "
                         "client its own",
                         where, m->keys[j]);
                return RZ_ECONFIG;
            }
    }
    if (conf->http_auth == RZ_HTTP_AUTH_NONE && m->n) {
        snprintf(err, err_len,
                 "%s: http_auth is 'none' but http_tokens lists clients: "
                 "remove one or the other",
                 f);
        return RZ_ECONFIG;
    }
    if (conf->http_auth == RZ_HTTP_AUTH_TOKEN && !m->n) {
        snprintf(err, err_len,
                 "%s: http_auth is 'token' but http_tokens lists no client", f);
        return RZ_ECONFIG;
    }
    if (conf->http_auth == RZ_HTTP_AUTH_AUTO && !m->n && !s_loopback(&sa)) {
        snprintf(err, err_len,
                 "%s: http '%s' listens beyond loopback and http_tokens "
                 "lists no client, so anyone who reaches the port could "
                 "publish: list clients in http_tokens (hashes from "
                 "`ratusz-adapter --hash-token`), listen on 127.0.0.1, or "
                 "set http_auth: none to accept every request on purpose",
                 f, conf->http);
        return RZ_ECONFIG;
    }
    return 0;
}

/* ===========================================================================
 * Requests
 */

static enum MHD_Result s_reply_with(struct MHD_Connection *conn,
                                    unsigned status, json_t *o,
                                    const char *header, const char *value)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    char *body = realloc(text, n + 2);
    if (!body) {
        free(text);
        return MHD_NO;
    }
    body[n] = '\n';
    body[n + 1] = '\0';
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST, GET");
    if (header)
        MHD_add_response_header(r, header, value);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status,
                               json_t *o)
{
    return s_reply_with(conn, status, o, NULL, NULL);
}

static enum MHD_Result s_error(rz_http_t *h, struct MHD_Connection *conn,
                               unsigned status, const char *msg)
{
    h->rt->stats.http_rejected++;
    return s_reply(conn, status, json_pack("{ss}", "error", msg));
}

/* The client whose token the request carries; NULL when there is none or
 * it is not one of ours (*presented tells which). Every entry is compared,
 * in constant time, so the answer's timing says nothing about the hashes. */
static const char *s_authenticate(const rz_http_t *h,
                                  struct MHD_Connection *conn, int *presented)
{
    *presented = 0;
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "Bearer", 6) || (v[6] != ' ' && v[6] != '\t'))
        return NULL;
    v += 6;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (!n)
        return NULL;
    *presented = 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(v, n, md, &mdlen, EVP_sha256(), NULL) ||
        mdlen != S_HASH_LEN)
        return NULL;
    const char *who = NULL;
    for (size_t i = 0; i < h->nclients; i++) {
        int same = CRYPTO_memcmp(md, h->clients[i].hash, S_HASH_LEN) == 0;
        if (same && !who)
            who = h->clients[i].name;
    }
    OPENSSL_cleanse(md, sizeof md);
    return who;
}

static enum MHD_Result s_unauthorized(rz_http_t *h, struct MHD_Connection *conn,
                                      int presented)
{
    h->rt->stats.http_unauthorized++;
    h->rt->stats.http_rejected++;
    return s_reply_with(
        conn, MHD_HTTP_UNAUTHORIZED,
        json_pack("{ss}", "error",
                  presented ? "the bearer token is not one of this adapter's "
                              "http_tokens"
                            : "send Authorization: Bearer TOKEN"),
        MHD_HTTP_HEADER_WWW_AUTHENTICATE,
        presented ? S_REALM ", error=\"invalid_token\"" : S_REALM);
}

static enum MHD_Result s_ingest(rz_http_t *h, struct MHD_Connection *conn,
                                const char *url, s_req_t *q)
{
    rz_rt_t *rt = h->rt;
    rt->stats.http_requests++;
    if (q->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "body larger than http_max_body (%llu bytes)",
                 (unsigned long long)rt->conf->http_max_body);
        return s_error(h, conn, 413, msg);
    }
    if (q->len == 0)
        return s_error(h, conn, MHD_HTTP_BAD_REQUEST, "empty body");
    char origin[600], ip[INET6_ADDRSTRLEN] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip,
                  sizeof ip);
    snprintf(origin, sizeof origin, "http POST %s from %s%s%s", url, ip,
             q->client ? " by " : "", q->client ? q->client : "");
    const char *name = strrchr(url, '/');
    name = name && name[1] ? name + 1 : "body";
    char cid[65];
    rz_sha256_hex(q->body, q->len, cid);
    rz_input_t in = {.origin = origin,
                     .name = name,
                     .data = q->body,
                     .len = q->len,
                     .content_type = MHD_lookup_connection_value(
                         conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                     .content_id = cid,
                     .first_line = 1};
    rz_ingest_result_t r;
    char err[512];
    int rc = rz_ingest(rt, &in, NULL, &r, err, sizeof err);
    if (rc < 0)
        return s_error(h, conn,
                       r.store_failed ? MHD_HTTP_SERVICE_UNAVAILABLE
                                      : MHD_HTTP_BAD_REQUEST,
                       err);
    json_t *o = json_pack("{sIsIsI}", "records", (json_int_t)r.records,
                          "events", (json_int_t)r.events, "quarantined",
                          (json_int_t)r.quarantined);
    if (r.quarantined) {
        rt->stats.http_rejected++;
        json_object_set_new(o, "error", json_string(r.first_reason));
        return s_reply(conn, 422, o);
    }
    return s_reply(conn, MHD_HTTP_ACCEPTED, o);
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn,
                                const char *url, const char *method,
                                const char *version, const char *upload,
                                size_t *upload_len, void **con_cls)
{
    rz_http_t *h = cls;
    s_req_t *q = *con_cls;
    if (q && q->denied) {
        /* answered already: let the rest of the body pass */
        *upload_len = 0;
        return MHD_YES;
    }
    const char *client = NULL;
    if (!q && h->clients) {
        int presented;
        if (!(client = s_authenticate(h, conn, &presented))) {
            /* any method may come with a body: remember the answer */
            if (!(q = calloc(1, sizeof *q)))
                return MHD_NO;
            q->denied = 1;
            *con_cls = q;
            return s_unauthorized(h, conn, presented);
        }
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        if (!strcmp(method, MHD_HTTP_METHOD_GET) && !strcmp(url, "/stats")) {
            char *s = rz_rt_stats_json(h->rt);
            json_t *o = s ? json_loads(s, 0, NULL) : NULL;
            free(s);
            return o ? s_reply(conn, MHD_HTTP_OK, o) : MHD_NO;
        }
        return s_error(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "POST an input, or GET /stats");
    }
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        q->client = client;
        *con_cls = q;
        const char *cl = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->rt->conf->http_max_body)
            q->too_big = 1;
        return MHD_YES;
    }
    if (*upload_len) {
        size_t n = *upload_len;
        *upload_len = 0;
        if (q->too_big || q->len + n > h->rt->conf->http_max_body) {
            q->too_big = 1;
            return MHD_YES;
        }
        if (q->len + n > q->cap) {
            size_t cap = q->cap ? q->cap : 64 * 1024;
            while (cap < q->len + n)
                cap *= 2;
            uint8_t *b = realloc(q->body, cap);
            if (!b)
                return MHD_NO;
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        return MHD_YES;
    }
    return s_ingest(h, conn, url, q);
}

static void s_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    s_req_t *q = *con_cls;
    if (q) {
        free(q->body);
        free(q);
        *con_cls = NULL;
    }
}

int rz_http_start(rz_http_t **out, rz_rt_t *rt, const char *listen, char *err,
                  size_t err_len)
{
    *out = NULL;
    struct sockaddr_in sa;
    int rc = rz_http_check_conf(rt->conf, rt->conf_file, err, err_len);
    if (rc || (rc = s_parse_listen(listen, &sa, err, err_len)))
        return rc;
    rz_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return RZ_ENOMEM;
    h->rt = rt;
    const rz_conf_map_t *m = &rt->conf->http_tokens;
    if (m->n && rt->conf->http_auth != RZ_HTTP_AUTH_NONE) {
        if (!(h->clients = calloc(m->n, sizeof *h->clients))) {
            free(h);
            return RZ_ENOMEM;
        }
        for (size_t i = 0; i < m->n; i++) {
            h->clients[i].name = m->keys[i];
            s_parse_hash(m->values[i], h->clients[i].hash); /* checked */
        }
        h->nclients = m->n;
    }
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, ntohs(sa.sin_port),
        NULL, NULL, s_handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, s_done, h, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, err_len, "http: cannot listen on %s", listen);
        free(h->clients);
        free(h);
        return RZ_EIO;
    }
    *out = h;
    return 0;
}

void rz_http_stop(rz_http_t **hp)
{
    if (!hp || !*hp)
        return;
    MHD_stop_daemon((*hp)->daemon);
    free((*hp)->clients);
    free(*hp);
    *hp = NULL;
}
