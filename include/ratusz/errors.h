/* errors.h - Ratusz error codes: one table, one strerror.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative code on failure. Codes that have an errno meaning reuse it
 * (RZ_ENOMEM == -ENOMEM); Ratusz's own codes live in the band
 * RZ_ERR_BASE - 0 .. RZ_ERR_BASE - 99 and are generated from RZ_ERRORS
 * below, together with rz_strerror() and rz_err_name(). The same numbers
 * travel on the wire (Error.code, Ack.code), so they never change.
 */
#ifndef RATUSZ_ERRORS_H
#define RATUSZ_ERRORS_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares
 * is its exported API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define RZ_ERR_BASE (-32000)

/* X(NAME, offset, message) */
#define RZ_ERRORS(X)                                                          \
    X(RZ_EBADFRAME, 1, "malformed request frames")                            \
    X(RZ_EDECODE, 2, "body is not a valid protobuf message")                  \
    X(RZ_EUNKNOWNCMD, 3, "unknown command")                                   \
    X(RZ_ETOOBIG, 4, "message larger than the configured limit")              \
    X(RZ_EINVALEVENT, 5, "event is missing a required field or is invalid")   \
    X(RZ_ENOTFOUND, 6, "not found")                                           \
    X(RZ_ESTOREFULL, 7, "store full")                                         \
    X(RZ_ESTORE, 8, "storage error")                                          \
    X(RZ_ESTOPPING, 9, "broker is stopping")                                  \
    X(RZ_EPROTO, 10, "unexpected reply from the broker")                      \
    X(RZ_EDENIED, 11, "access denied")                                        \
    X(RZ_ECONFIG, 12, "invalid configuration")                                \
    X(RZ_EBADCURSOR, 13, "invalid continuation cursor")                       \
    X(RZ_EGAP, 14, "events were missed and could not be recovered")           \
    X(RZ_EBUSY, 15, "too many requests in flight")                            \
    X(RZ_EBADREQ, 16, "invalid request")                                     \
    X(RZ_ECONFLICT, 17, "same source and id, different content")             \
    X(RZ_EDISKFULL, 18, "the disk under the store is full or failing")

enum rz_error {
#define RZ__ERR_ENUM(name, off, msg) name = RZ_ERR_BASE - (off),
    RZ_ERRORS(RZ__ERR_ENUM)
#undef RZ__ERR_ENUM
    RZ_ENOMEM = -ENOMEM,
    RZ_EINVAL = -EINVAL,
    RZ_EAGAIN = -EAGAIN,
    RZ_ETIMEDOUT = -ETIMEDOUT,
    RZ_EIO = -EIO,
    RZ_ENOSPC = -ENOSPC
};

/* A text for any code returned by Ratusz: its own, or -errno. Never NULL;
 * the string is static. */
const char *rz_strerror(int code);

/* The symbolic name ("RZ_ESTOREFULL", "ENOMEM"), or "RZ_E?" if unknown.
 * Static string. */
const char *rz_err_name(int code);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
