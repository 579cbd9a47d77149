/* metrics.c - /metrics and /healthz over HTTP, on libmicrohttpd */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ratusz/core/log.h"
#include "ratusz/errors.h"

struct rz_metrics {
    struct MHD_Daemon *daemon;
    rz_metrics_render_fn render;
    rz_metrics_health_fn health;
    void *user;
    int port;
    rz_metrics_extra_t extra;
    char *tls_cert, *tls_key; /* copies: MHD keeps pointers to them */
};

/* ===========================================================================
 * Requests
 */

/* Queue a response; body is copied unless it must be freed (owned). */
static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status,
                               const char *type, char *body, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body,
        owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* scrapes and probes want the current state, never a cached one */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

#define S_TEXT "text/plain; charset=utf-8"
#define S_PROM "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn,
                                const char *url, const char *method,
                                const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    rz_metrics_t *m = cls;
    (void)version;

    if (m->extra.route && strcmp(url, "/metrics") != 0 &&
        strcmp(url, "/healthz") != 0)
        return m->extra.route(m->extra.user, conn, url, method, upload_data,
                              upload_data_size, req_cls)
                   ? MHD_YES
                   : MHD_NO;

    /* HEAD is GET without the body, which MHD drops for us */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, S_TEXT,
                       (char *)"method not allowed\n", false);

    if (strcmp(url, "/metrics") == 0) {
        char *text = m->render ? m->render(m->user) : NULL;
        if (!text)
            return s_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, S_TEXT,
                           (char *)"metrics unavailable\n", false);
        return s_reply(conn, MHD_HTTP_OK, S_PROM, text, true);
    }

    if (strcmp(url, "/healthz") == 0) {
        char status[128] = "";
        if (!m->health || m->health(m->user, status, sizeof status - 1) == 0)
            return s_reply(conn, MHD_HTTP_OK, S_TEXT, (char *)"ok\n", false);
        status[sizeof status - 1] = '\0';
        char *body = NULL;
        if (asprintf(&body, "%s\n", *status ? status : "unhealthy") < 0)
            return MHD_NO;
        return s_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, S_TEXT, body, true);
    }

    return s_reply(conn, MHD_HTTP_NOT_FOUND, S_TEXT, (char *)"not found\n",
                   false);
}

/* ===========================================================================
 * Listening
 */

/* Split "host:port", "[v6]:port" or ":port" in place. *host is NULL for
 * every address. */
static int s_split(char *hp, char **host, char **port)
{
    char *colon;
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close || close[1] != ':')
            return RZ_ECONFIG;
        *close = '\0';
        *host = hp + 1;
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return RZ_ECONFIG;
        *colon = '\0';
        *host = hp;
    }
    *port = colon + 1;
    if (**host == '\0' || strcmp(*host, "*") == 0)
        *host = NULL;
    size_t n = strlen(*port);
    if (n == 0 || n > 5 || strspn(*port, "0123456789") != n ||
        atoi(*port) > 65535)
        return RZ_ECONFIG;
    return 0;
}

/* Bind and listen ourselves rather than let MHD do it, so a failure comes
 * with its errno ("Address already in use") and port 0 can be read back. */
static int s_listen(const char *hostport, int *fd_out, int *port_out, char *err,
                    size_t err_len)
{
    char *copy = strdup(hostport), *host, *port;
    struct addrinfo hints, *res = NULL;
    int fd = -1, rc, saved = 0;

    if (!copy)
        return RZ_ENOMEM;
    if (s_split(copy, &host, &port) != 0) {
        rzc_errf(err, err_len, "metrics: invalid address '%s' (want HOST:PORT)",
                 hostport);
        rc = RZ_ECONFIG;
        goto fail;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        rzc_errf(err, err_len, "metrics: cannot resolve '%s': %s", hostport,
                 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        rc = RZ_ECONFIG;
        goto fail;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        /* a restart must not wait for the old connections' TIME_WAIT */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        rzc_errf(err, err_len, "metrics: cannot listen on %s: %s", hostport,
                 strerror(saved ? saved : EADDRNOTAVAIL));
        rc = saved ? -saved : -EADDRNOTAVAIL;
        goto fail;
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *port_out = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    *fd_out = fd;
    rc = 0;
fail:
    if (res)
        freeaddrinfo(res);
    free(copy);
    return rc;
}

static void s_completed(void *cls, struct MHD_Connection *conn,
                        void **req_cls, enum MHD_RequestTerminationCode toe)
{
    rz_metrics_t *m = cls;
    (void)conn;
    (void)toe;
    if (m->extra.done)
        m->extra.done(m->extra.user, req_cls);
}

int rz_metrics_start(rz_metrics_t **out, const char *hostport,
                     rz_metrics_render_fn render, rz_metrics_health_fn health,
                     void *user, char *err, size_t err_len)
{
    return rz_metrics_start_extra(out, hostport, render, health, user, NULL,
                                  err, err_len);
}

int rz_metrics_start_extra(rz_metrics_t **out, const char *hostport,
                           rz_metrics_render_fn render,
                           rz_metrics_health_fn health, void *user,
                           const rz_metrics_extra_t *extra, char *err,
                           size_t err_len)
{
    rz_metrics_t *m = NULL;
    int fd = -1, rc;

    *out = NULL;
    if (!hostport || !*hostport || strcmp(hostport, "off") == 0)
        return 0;

    m = calloc(1, sizeof *m);
    if (!m) {
        rzc_errf(err, err_len, "metrics: out of memory");
        return RZ_ENOMEM;
    }
    m->render = render;
    m->health = health;
    m->user = user;
    if (extra) {
        m->extra = *extra;
        m->extra.tls_cert = m->extra.tls_key = NULL;
        if (extra->tls_cert && extra->tls_key) {
            m->tls_cert = strdup(extra->tls_cert);
            m->tls_key = strdup(extra->tls_key);
            if (!m->tls_cert || !m->tls_key) {
                rzc_errf(err, err_len, "metrics: out of memory");
                rc = RZ_ENOMEM;
                goto fail;
            }
        }
    }

    rc = s_listen(hostport, &fd, &m->port, err, err_len);
    if (rc != 0)
        goto fail;

    /* One polling thread is plenty for scrapes and probes; the timeout
     * and connection cap keep idle or slow clients from holding it. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (m->tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            rzc_errf(err, err_len,
                     "metrics: this libmicrohttpd was built without TLS");
            rc = RZ_ECONFIG;
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    /* MHD reads the options up to MHD_OPTION_END: without TLS the key
     * options are left out by ending the list before them */
    m->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handle, m, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED, s_completed, m,
        /* idle connections are closed after 5 s; a thousand of them (one
         * epoll set, a few KiB each) leave room for the probes when
         * someone holds hundreds open on purpose */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
        m->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, m->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, m->tls_key, MHD_OPTION_END);
    if (!m->daemon) {
        /* Whether MHD closed the socket it was given differs between its
         * versions; leaking one fd on a failed start beats closing a
         * number another thread may have reused. */
        rzc_errf(err, err_len, "metrics: cannot start the HTTP server on %s",
                 hostport);
        rc = RZ_EIO;
        goto fail;
    }
    *out = m;
    return 0;
fail:
    if (m) {
        free(m->tls_cert);
        free(m->tls_key);
    }
    free(m);
    return rc;
}

int rz_metrics_port(const rz_metrics_t *m)
{
    return m ? m->port : 0;
}

void rz_metrics_stop(rz_metrics_t **pm)
{
    if (!pm || !*pm)
        return;
    rz_metrics_t *m = *pm;
    /* waits for the polling thread and closes the listening socket */
    MHD_stop_daemon(m->daemon);
    free(m->tls_cert);
    free(m->tls_key);
    free(m);
    *pm = NULL;
}
