/* audit.c - the audit log (placeholder: records are not kept yet) */
#include "audit.h"

#include <stdlib.h>

#include "ratusz/errors.h"

struct rz_audit {
    int unused;
};

int rz_audit_open(rz_audit_t **out, const char *dir, uint64_t retention_us,
                  char *err, size_t err_len)
{
    (void)dir, (void)retention_us, (void)err, (void)err_len;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : RZ_ENOMEM;
}

void rz_audit_close(rz_audit_t **a)
{
    if (a) {
        free(*a);
        *a = NULL;
    }
}

int rz_audit_write(rz_audit_t *a, const rz_audit_entry_t *e)
{
    (void)a, (void)e;
    return 0;
}

int rz_audit_flush(rz_audit_t *a)
{
    (void)a;
    return 0;
}

int rz_audit_query(rz_audit_t *a, const Ratusz__V1__AuditRequest *q,
                   Ratusz__V1__AuditList **out)
{
    (void)a, (void)q;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return RZ_ENOMEM;
    ratusz__v1__audit_list__init(*out);
    return 0;
}

int rz_audit_verify(rz_audit_t *a, uint64_t from, Ratusz__V1__VerifyResult *out)
{
    (void)a, (void)from;
    ratusz__v1__verify_result__init(out);
    out->ok = 1;
    return 0;
}

uint64_t rz_audit_written(const rz_audit_t *a)
{
    (void)a;
    return 0;
}

uint64_t rz_audit_lost(const rz_audit_t *a)
{
    (void)a;
    return 0;
}
