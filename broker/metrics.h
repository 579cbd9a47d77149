/* metrics.h - the HTTP endpoint for Prometheus and health checks.
 *
 * A small libmicrohttpd server on its own thread:
 *
 *   GET /metrics   200, text/plain; version=0.0.4; charset=utf-8: whatever
 *                  render returns (500 if it returns NULL)
 *   GET /healthz   200 "ok\n" when health returns 0, else 503 and the
 *                  status text it wrote ("store-full\n")
 *   other paths    404;  methods other than GET and HEAD: 405
 *
 * The callbacks run on the server's thread, one request at a time, so they
 * must be thread-safe with respect to the rest of the broker (rz_stats_*
 * are). They are never called after rz_metrics_stop returns.
 */
#ifndef RATUSZ_BROKER_METRICS_H
#define RATUSZ_BROKER_METRICS_H

#include <stddef.h>

/* Return the Prometheus text, malloc'd (the server frees it), or NULL. */
typedef char *(*rz_metrics_render_fn)(void *user);

/* Return 0 when healthy; otherwise write a short status ("store-full",
 * NUL-terminated, at most len bytes) and return non-zero. */
typedef int (*rz_metrics_health_fn)(void *user, char *status, size_t len);

typedef struct rz_metrics rz_metrics_t;

/* Listen on hostport ("127.0.0.1:7602", "[::1]:7602", ":7602" for every
 * address; port 0 picks a free one, see rz_metrics_port) and serve.
 * hostport "" or "off" starts nothing: returns 0 with *out = NULL.
 * health may be NULL (always healthy).
 *
 * Returns 0 and *out, or:
 *   RZ_ECONFIG  hostport is not HOST:PORT or does not resolve
 *   -errno      the socket could not be bound or listened on
 *               (-EADDRINUSE, -EACCES, ...)
 *   RZ_EIO      libmicrohttpd would not start
 *   RZ_ENOMEM
 * with err (when err_len > 0) saying what, e.g.
 * "metrics: cannot listen on 127.0.0.1:7602: Address already in use". */
int rz_metrics_start(rz_metrics_t **out, const char *hostport,
                     rz_metrics_render_fn render, rz_metrics_health_fn health,
                     void *user, char *err, size_t err_len);

/* What else the server may do (the web console, console.h): every path
 * other than /metrics and /healthz goes to route, with libmicrohttpd's
 * own arguments (any method: the console takes a POST); done is called
 * with *req_cls when each request ends, so that route can keep state
 * there. With tls_cert and tls_key (PEM text, NUL-terminated, copied by
 * the server) it serves HTTPS only, /metrics included. */
struct MHD_Connection;
typedef int (*rz_metrics_route_fn)(void *user, struct MHD_Connection *conn,
                                   const char *url, const char *method,
                                   const char *upload_data,
                                   size_t *upload_data_size, void **req_cls);
typedef void (*rz_metrics_done_fn)(void *user, void **req_cls);
typedef struct rz_metrics_extra {
    rz_metrics_route_fn route;
    rz_metrics_done_fn done;
    void *user;
    const char *tls_cert;
    const char *tls_key;
} rz_metrics_extra_t;

/* rz_metrics_start with extra (NULL: the same). */
int rz_metrics_start_extra(rz_metrics_t **out, const char *hostport,
                           rz_metrics_render_fn render,
                           rz_metrics_health_fn health, void *user,
                           const rz_metrics_extra_t *extra, char *err,
                           size_t err_len);

/* The port actually bound (useful after asking for port 0); 0 for NULL. */
int rz_metrics_port(const rz_metrics_t *m);

/* Stop serving, wait for the server thread, free. Safe with NULL and twice;
 * sets *m to NULL. */
void rz_metrics_stop(rz_metrics_t **m);

#endif
