/* access.h - who is asking, and may they: the one place access is decided.
 *
 * Without security (no principals file) every request is "anonymous" and
 * everything is allowed, personal data included: the broker then serves
 * loopback only (see config.c). With CURVE on, the ZAP handler (zap.c)
 * maps a client's public key to its principal name, which arrives on every
 * message as the "User-Id" property, and the grants of the principals file
 * (docs/SECURITY.md) decide here what it may do.
 *
 * Threads: rz_access_load and the decisions run on the front thread;
 * rz_access_key is called by the ZAP thread. Loading swaps the grants in
 * one step: a handshake sees either the old grants or the new ones.
 */
#ifndef RATUSZ_BROKER_ACCESS_H
#define RATUSZ_BROKER_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define RZ_PRINCIPAL_MAX 128

/* Load (or reload) the principals file at path; NULL or "" turns security
 * off (everything allowed). The file is checked completely first: on any
 * error nothing changes, RZ_ECONFIG is returned and err holds
 * "FILE:LINE: what is wrong" (RZ_ENOMEM: out of memory, also unchanged).
 * key_file paths are relative to the file's directory. A file without
 * principals is an error. Returns the number of principals. */
int rz_access_load(const char *path, char *err, size_t err_len);

/* Load in two steps, for a reload that must check everything before it
 * changes anything: parse and check the file into *out (the same errors
 * as rz_access_load; returns the number of principals), then put it in
 * force with rz_access_install, which takes it (NULL: security off). */
typedef struct rz_access_grants rz_access_grants_t;
int rz_access_parse(const char *path, rz_access_grants_t **out, char *err,
                    size_t err_len);
void rz_access_install(rz_access_grants_t **grants);
/* Free parsed grants that were not installed. Safe with NULL. */
void rz_access_grants_destroy(rz_access_grants_t **grants);

/* Same from a string (tests, fuzzing); name is used in messages and its
 * directory (if it has one) for key_file paths. */
int rz_access_load_string(const char *yaml, size_t len, const char *name,
                          char *err, size_t err_len);

/* Free the grants in force (at exit). */
void rz_access_shutdown(void);

/* 1 when a principals file is in force. */
int rz_access_enabled(void);

/* ZAP (any thread): the principal name of a CURVE public key (32 bytes),
 * written to name (RZ_PRINCIPAL_MAX bytes hold any name). 0, or RZ_EDENIED
 * when the key is in no grant or security is off. */
int rz_access_key(const uint8_t key[32], char *name, size_t name_len);

/* The principal of the connection a message arrived on, written to out. */
void rz_access_principal(zmq_msg_t *msg, char *out, size_t len);

/* --- decisions: 0 allowed, or RZ_EDENIED with a reason in why ------------ */

/* Publish an event of this source, tenant and domain: the source matches
 * a publish_sources pattern and the tenant is in publish_tenants (the
 * domain is implied by the source patterns). */
int rz_access_publish(const char *principal, const char *source,
                      const char *tenant, const char *domain, char *why,
                      size_t why_len);

/* An admin action: "stats", "consumers", "report", "reload", "audit",
 * "verify". */
int rz_access_admin(const char *principal, const char *action, char *why,
                    size_t why_len);

/* Fetch from or commit a consumer group (owned by the principal). */
int rz_access_group(const char *principal, const char *group, char *why,
                    size_t why_len);

/* 1 when the principal may see personal data unredacted. */
int rz_access_personal(const char *principal);

/* Reads by topic prefix ("" = everything). */
enum rz_read_scope {
    RZ_READ_ALL = 1, /* every topic under the prefix is allowed */
    RZ_READ_SOME = 2 /* some are: check each event with rz_access_topic */
};
/* RZ_READ_ALL, RZ_READ_SOME, or RZ_EDENIED when no topic under prefix can
 * be read. */
int rz_access_read_prefix(const char *principal, const char *prefix,
                          char *why, size_t why_len);

/* 1 when the principal may read an event of this topic, else 0. Runs per
 * event: no allocation. */
int rz_access_topic(const char *principal, const char *topic, size_t len);

/* The topic of stored event bytes, read from the wire (tenant and type
 * fields, last value wins as in protobuf) without decoding the event;
 * "<tenant>.<domain>.<suffix>" as rz_event_topic. Returns the length, or
 * RZ_EDECODE when the bytes are not an event with a tenant and a type, or
 * RZ_EINVAL when the topic does not fit buf (or RZ_TOPIC_MAX). */
int rz_access_event_topic(const uint8_t *ev, size_t len, char *buf,
                          size_t buf_len);

/* A stream subscription to prefix (len bytes, may hold any byte): calls
 * add(p, n, user) for each prefix to subscribe to on the principal's behalf
 * (the prefix itself when it lies inside a grant; the granted prefixes
 * under it when it is wider). Returns how many were added, 0 = denied. */
int rz_access_subscribe(const char *principal, const char *prefix,
                        size_t len,
                        void (*add)(const char *p, size_t n, void *user),
                        void *user);

/* Fill a Whoami reply for principal (strings point into the grants, valid
 * until the next rz_access_load on this thread; never free them). The
 * address is the caller's to set. */
struct Ratusz__V1__Whoami;
void rz_access_whoami(const char *principal, struct Ratusz__V1__Whoami *out);

/* --- the web console (console.c): any thread ---------------------------- */

/* The console_password hash of principal into hash (len bytes). 0, or
 * RZ_EDENIED when the principal is unknown, has no console login, or
 * security is off. */
int rz_access_console_hash(const char *principal, char *hash, size_t len);

/* What a console login may see: a copy of its grants, made under the lock
 * so that a reload can free the grants meanwhile. */
typedef struct rz_access_view {
    int personal; /* personal_data: true */
    int read_all; /* read: [""] */
    int stats;    /* admin: [stats]: the Overview */
    char **reads; /* read prefixes (malloc'd) */
    size_t nreads;
} rz_access_view_t;

/* Fill v for principal. 0, RZ_EDENIED (unknown, no console_password any
 * more, security off) or RZ_ENOMEM. Free with rz_access_view_free. */
int rz_access_view(const char *principal, rz_access_view_t *v);
void rz_access_view_free(rz_access_view_t *v);
/* 1 when v may read an event of this topic. */
int rz_access_view_topic(const rz_access_view_t *v, const char *topic,
                         size_t len);
/* RZ_READ_ALL, RZ_READ_SOME or RZ_EDENIED for reads under prefix. */
int rz_access_view_prefix(const rz_access_view_t *v, const char *prefix);

#endif
