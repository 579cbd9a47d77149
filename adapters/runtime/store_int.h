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

#endif
