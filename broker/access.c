/* access.c - who is asking, and may they: the one place access is decided */
#include "access.h"

#include <stdio.h>
#include <string.h>

#include "ratusz/errors.h"
#include "ratusz/v1/api.pb-c.h"

/* Placeholder until the principals file lands: security off. */

int rz_access_load(const char *path, char *err, size_t err_len)
{
    if (path && *path) {
        snprintf(err, err_len, "%s: principals files are not supported yet",
                 path);
        return RZ_ECONFIG;
    }
    return 0;
}

int rz_access_load_string(const char *yaml, size_t len, const char *name,
                          char *err, size_t err_len)
{
    (void)yaml;
    (void)len;
    snprintf(err, err_len, "%s: principals files are not supported yet",
             name);
    return RZ_ECONFIG;
}

void rz_access_shutdown(void) {}

int rz_access_enabled(void) { return 0; }

int rz_access_key(const uint8_t key[32], char *name, size_t name_len)
{
    (void)key;
    if (name_len)
        name[0] = '\0';
    return RZ_EDENIED;
}

void rz_access_principal(zmq_msg_t *msg, char *out, size_t len)
{
    const char *user = zmq_msg_gets(msg, "User-Id");
    snprintf(out, len, "%s", user && *user ? user : "anonymous");
}

int rz_access_publish(const char *principal, const char *source,
                      const char *tenant, const char *domain, char *why,
                      size_t why_len)
{
    (void)principal, (void)source, (void)tenant, (void)domain;
    if (why_len)
        why[0] = '\0';
    return 0;
}

int rz_access_admin(const char *principal, const char *action, char *why,
                    size_t why_len)
{
    (void)principal, (void)action;
    if (why_len)
        why[0] = '\0';
    return 0;
}

int rz_access_group(const char *principal, const char *group, char *why,
                    size_t why_len)
{
    (void)principal, (void)group;
    if (why_len)
        why[0] = '\0';
    return 0;
}

int rz_access_personal(const char *principal)
{
    (void)principal;
    return 1;
}

int rz_access_read_prefix(const char *principal, const char *prefix,
                          char *why, size_t why_len)
{
    (void)principal, (void)prefix;
    if (why_len)
        why[0] = '\0';
    return RZ_READ_ALL;
}

int rz_access_topic(const char *principal, const char *topic, size_t len)
{
    (void)principal, (void)topic, (void)len;
    return 1;
}

int rz_access_event_topic(const uint8_t *ev, size_t len, char *buf,
                          size_t buf_len)
{
    (void)ev, (void)len;
    if (buf_len)
        buf[0] = '\0';
    return RZ_EDECODE;
}

int rz_access_subscribe(const char *principal, const char *prefix,
                        size_t len,
                        void (*add)(const char *p, size_t n, void *user),
                        void *user)
{
    (void)principal;
    add(prefix, len, user);
    return 1;
}

void rz_access_whoami(const char *principal, struct Ratusz__V1__Whoami *out)
{
    ratusz__v1__whoami__init(out);
    out->principal = (char *)principal;
    out->personal_data = 1;
}
