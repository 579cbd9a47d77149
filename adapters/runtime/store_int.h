/* store_int.h - what store.c and quarantine.c share */
#ifndef RZ_ADAPTER_STORE_INT_H
#define RZ_ADAPTER_STORE_INT_H

#include <stdint.h>

#include <lmdb.h>

#include "store.h"

struct rz_astore {
    MDB_env *env;
    MDB_dbi outbox, quarantine, state, inputs;
};

/* An LMDB code as a Ratusz code: MDB_NOTFOUND is RZ_ENOTFOUND, anything
 * else rzc_lmdb_fail() (a full map RZ_ESTOREFULL, a full or failing disk
 * RZ_EDISKFULL, the rest RZ_ESTORE with LMDB's words logged under what). */
int rz__astore_err(int mdb_rc, const char *what);
void rz__be64(uint8_t b[8], uint64_t v);
uint64_t rz__get_be64(const uint8_t b[8]);
void rz__le64(uint8_t *b, uint64_t v);
uint64_t rz__get_le64(const uint8_t *b);
void rz__le32(uint8_t *b, uint32_t v);
uint32_t rz__get_le32(const uint8_t *b);
/* The next value of a counter kept in state ("c:seq", "c:qid"), cached in
 * *cache for the rest of the transaction and written at commit. */
uint64_t rz__atxn_next(rz_atxn_t *t, const char *name, uint64_t *cache);

/* quarantine.c: one record, and every record, inside t. */
rz_qrec_t *rz__quarantine_get_txn(rz_atxn_t *t, uint64_t id, int *rc);
int rz__quarantine_each_txn(rz_atxn_t *t, rz_quarantine_cb cb, void *user);

/* qclass.c: the class counts of a record put (replacing the record under
 * replaces, 0: none) or deleted, in t; and the first count of a store's
 * quarantine. */
int rz__qclass_put(rz_atxn_t *t, const char *reason, int64_t time,
                   uint64_t replaces);
int rz__qclass_del(rz_atxn_t *t, uint64_t id);
int rz__qclass_seed(rz_astore_t *s);

#endif
