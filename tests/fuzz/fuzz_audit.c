/* fuzz_audit.c - libFuzzer target for AUDIT and VERIFY request bodies.
 *
 * The first input byte picks the path; the rest is the request body as it
 * arrives on the wire:
 *
 *   0  AuditRequest against a real audit log of 60 records (4 principals,
 *      3 subjects): every record returned matches the filters, ids rise,
 *      at most limit (capped at 10,000) come back, next_id continues;
 *   1  VerifyRequest against that log and a real event store: whatever
 *      `from` says, an intact log and store verify as intact.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rz_audit_t *s_audit;
static rz_store_t *s_store;
static const char *const s_principals[] = {"operator", "auditor",
                                           "adapter-tax", "unknown:x"};
static const char *const s_subjects[] = {"parcel:1", "parcel:2",
                                         "station:117"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/ratusz-fuzz-audit-XXXXXX", path[300], err[512];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/audit", dir);
    if (rz_audit_open(&s_audit, path, 0, err, sizeof err) < 0)
        abort();
    for (int i = 0; i < 60; i++) {
        const char *subj = s_subjects[i % 3];
        rz_audit_entry_t e = {.principal = s_principals[i % 4],
                              .address = "127.0.0.1",
                              .action = i % 2 ? "read-personal" : "denied",
                              .command = "GET",
                              .detail = "seq=1",
                              .outcome = "ok",
                              .events = 1,
                              .subjects = &subj,
                              .n_subjects = 1};
        if (rz_audit_write(s_audit, &e) < 0)
            abort();
    }
    rz_audit_flush(s_audit);
    snprintf(path, sizeof path, "%s/store", dir);
    rz_store_opts_t so = {path, 1 << 20, 64 << 20, RZ_SYNC_OS, 0};
    if (rz_store_open(&s_store, &so) < 0)
        abort();
    for (int i = 0; i < 40; i++) {
        char id[16];
        uint8_t bytes[64];
        snprintf(id, sizeof id, "ev-%d", i);
        int n = snprintf((char *)bytes, sizeof bytes, "event %d", i);
        rz_store_item_t it = {.bytes = bytes,
                              .len = (size_t)n,
                              .source = "/1/x/y",
                              .source_len = 6,
                              .id = id,
                              .id_len = strlen(id),
                              .topic = "1261011.budget.x",
                              .topic_len = 16,
                              .principal = "p",
                              .principal_len = 1,
                              .time = i};
        if (rz_store_append(s_store, &it, 1, 1) < 0 || it.code)
            abort();
    }
    return 0;
}

static void s_audit_query(const uint8_t *data, size_t size)
{
    Ratusz__V1__AuditRequest *q =
        ratusz__v1__audit_request__unpack(NULL, size, data);
    if (!q)
        return;
    Ratusz__V1__AuditList *l = NULL;
    int rc = rz_audit_query(s_audit, q, &l);
    assert(rc == 0 && l);
    uint32_t limit = q->limit ? q->limit : 1000;
    if (limit > 10000)
        limit = 10000;
    assert(l->n_records <= limit);
    uint64_t prev = q->after_id;
    for (size_t i = 0; i < l->n_records; i++) {
        const Ratusz__V1__AuditRecord *r = l->records[i];
        assert(r->id > prev);
        prev = r->id;
        if (*q->principal)
            assert(!strcmp(r->principal, q->principal));
        if (q->since)
            assert(r->time >= q->since);
        if (q->until)
            assert(r->time < q->until);
        if (*q->subject) {
            int hit = 0;
            for (size_t k = 0; k < r->n_subjects; k++)
                hit |= !strcmp(r->subjects[k], q->subject);
            assert(hit);
        }
    }
    assert(l->next_id == 0 || l->next_id >= prev);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    ratusz__v1__audit_request__free_unpacked(q, NULL);
}

static void s_verify(const uint8_t *data, size_t size)
{
    Ratusz__V1__VerifyRequest *q =
        ratusz__v1__verify_request__unpack(NULL, size, data);
    if (!q)
        return;
    Ratusz__V1__VerifyResult r;
    assert(rz_audit_verify(s_audit, q->from, &r) == 0);
    assert(r.ok);
    assert(rz_store_verify(s_store, q->from, &r) == 0);
    assert(r.ok);
    free(r.reason);
    free(r.invalid_reason);
    ratusz__v1__verify_request__free_unpacked(q, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        s_verify(data + 1, size - 1);
    else
        s_audit_query(data + 1, size - 1);
    return 0;
}
