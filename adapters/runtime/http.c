/* http.c - the HTTP source: a POSTed body is one input (libmicrohttpd, on
 * its own thread)
 *
 *   POST /any/path   202  every record is an event in the outbox
 *                    422  some records were quarantined (the others are
 *                         in the outbox: do not send it again)
 *                    400  the module cannot read the body at all
 *                    413  larger than http_max_body
 *                    503  the outbox cannot take it now: send it again
 *   GET /stats       200  the adapter's counters as JSON
 *
 * Answers are JSON objects: {"records":N,"events":N,"quarantined":N} or
 * {"error":"..."}. A 202 is sent only after the records are committed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "sources.h"

struct rz_http {
    rz_rt_t *rt;
    struct MHD_Daemon *daemon;
};

typedef struct s_req {
    uint8_t *body;
    size_t len, cap;
    int too_big;
} s_req_t;

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status,
                               json_t *o)
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
    struct MHD_Response *r = MHD_create_response_from_buffer(
        n + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST, GET");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result s_error(rz_http_t *h, struct MHD_Connection *conn,
                               unsigned status, const char *msg)
{
    h->rt->stats.http_rejected++;
    return s_reply(conn, status, json_pack("{ss}", "error", msg));
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
                  &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
                  ip, sizeof ip);
    snprintf(origin, sizeof origin, "http POST %s from %s", url, ip);
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
    s_req_t *q = *con_cls;
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
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

int rz_http_start(rz_http_t **out, rz_rt_t *rt, const char *listen,
                  char *err, size_t err_len)
{
    *out = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char *colon = strrchr(listen, ':');
    char host[64] = "0.0.0.0";
    if (colon && colon > listen)
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char *end;
    unsigned long port = strtoul(colon ? colon + 1 : listen, &end, 10);
    if (*end || port == 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, err_len, "http '%s': want HOST:PORT with an IPv4 "
                 "address, e.g. 127.0.0.1:8088", listen);
        return RZ_ECONFIG;
    }
    sa.sin_port = htons((uint16_t)port);
    rz_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return RZ_ENOMEM;
    h->rt = rt;
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, (uint16_t)port, NULL,
        NULL, s_handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, s_done, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, err_len, "http: cannot listen on %s", listen);
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
    free(*hp);
    *hp = NULL;
}
