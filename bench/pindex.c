/* pindex.c - the cost of the pseudonym index (broker/pindex.h), on a store
 * of its own: N tax assessments (a person as taxpayer: pesel, name,
 * address, account; 1 in 10 taxpayers with several parcels) and N/10
 * budget events appended with sync: os, then indexed as the broker's
 * indexer does (batches of RZ_PINDEX_BATCH). Prints one JSON line: the
 * indexing time per 1,000 tax events and the index's bytes per tax event
 * (its LMDB pages). Usage: rz-bench-pindex [N] [DIR]
 */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pindex.h"
#include "redact.h"
#include "store.h"

static double s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t s_pack_tax(uint8_t *buf, size_t cap, uint64_t i, char *id,
                         char *pesel, char *name, char *addr, char *acct)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment tax = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party p = RATUSZ__V1__PARTY__INIT;
    uint64_t who = i % 10 == 0 ? i / 10 : i; /* some own several parcels */
    snprintf(id, 64, "DN-1/2024/%08" PRIu64, i);
    snprintf(pesel, 16, "%011" PRIu64, 44051400000 + who);
    snprintf(name, 64, "Podatnik %" PRIu64, who);
    snprintf(addr, 96, "ul. Morska %" PRIu64 ", 84-150 Hel", who % 500);
    snprintf(acct, 32, "ACC-%08" PRIu64, who);
    ev.id = id;
    ev.source = "/2211011/tax/dn1";
    ev.type = "pl.gov.gmina.tax.assessment.v1";
    ev.subject = "parcel:221101_1.0001.161/8";
    ev.tenant = "2211011";
    ev.time = 1717000000000000 + (int64_t)i;
    p.kind = RATUSZ__V1__PARTY__KIND__KIND_PERSON;
    p.pesel = pesel;
    p.name = name;
    p.address = addr;
    tax.document_id = id;
    tax.form = "DN-1";
    tax.tax_year = 2024;
    tax.taxpayer = &p;
    tax.account = acct;
    tax.total_grosze = 12345;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &tax;
    size_t n = ratusz__v1__event__get_packed_size(&ev);
    if (n > cap)
        abort();
    return ratusz__v1__event__pack(&ev, buf);
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    char dir[256];
    snprintf(dir, sizeof dir, "%s",
             argc > 2 ? argv[2] : "/tmp/ratusz-bench-pindex-XXXXXX");
    if (argc <= 2 && !mkdtemp(dir))
        return 1;
    rz_store_opts_t o = {dir, (size_t)1 << 30, (size_t)8 << 30, RZ_SYNC_OS, 0};
    rz_store_t *s = NULL;
    if (rz_store_open(&s, &o) < 0)
        return 1;
    rz_redact_key_t key;
    memset(&key, 0, sizeof key);
    memset(key.key, 0x5a, sizeof key.key);
    snprintf(key.id, sizeof key.id, "bench00000000000");
    rz_store_pseud_hook(s, rz__pindex_pseudonyms, &key);
    if (rz_store_pseud_bind(s, key.id, NULL) < 0)
        return 1;

    enum { BATCH = 1000 };
    static uint8_t buf[BATCH][512];
    static char ids[BATCH][64], pesels[BATCH][16], names[BATCH][64],
        addrs[BATCH][96], accts[BATCH][32];
    rz_store_item_t items[BATCH];
    uint64_t tax = 0, other = 0;
    for (uint64_t at = 0; at < n + n / 10;) {
        size_t k = 0;
        for (; k < BATCH && at < n + n / 10; k++, at++) {
            rz_store_item_t *it = &items[k];
            memset(it, 0, sizeof *it);
            if (at % 11 == 10) { /* a budget event: no personal data */
                Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
                Ratusz__V1__BudgetEntry be = RATUSZ__V1__BUDGET_ENTRY__INIT;
                snprintf(ids[k], 64, "b-%" PRIu64, at);
                ev.id = ids[k];
                ev.source = "/2211011/budget/besti";
                ev.type = "pl.gov.gmina.budget.execution.v1";
                ev.tenant = "2211011";
                ev.time = 1717000000000000 + (int64_t)at;
                be.dzial = "700";
                be.amount_grosze = 1;
                ev.data_case = RATUSZ__V1__EVENT__DATA_BUDGET;
                ev.budget = &be;
                it->len = ratusz__v1__event__pack(&ev, buf[k]);
                it->source = "/2211011/budget/besti";
                it->topic = "2211011.budget.execution";
                other++;
            } else {
                it->len = s_pack_tax(buf[k], sizeof buf[k], at, ids[k],
                                     pesels[k], names[k], addrs[k], accts[k]);
                it->source = "/2211011/tax/dn1";
                it->topic = "2211011.tax.assessment";
                tax++;
            }
            it->bytes = buf[k];
            it->source_len = strlen(it->source);
            it->id = ids[k];
            it->id_len = strlen(ids[k]);
            it->subject = "parcel:221101_1.0001.161/8";
            it->subject_len = strlen(it->subject);
            it->topic_len = strlen(it->topic);
            it->principal = "bench";
            it->principal_len = 5;
            it->time = 1717000000000000 + (int64_t)at;
        }
        if (rz_store_append(s, items, k, 1717000000000000) < 0)
            return 1;
    }

    double t0 = s_now();
    rz_store_pseud_batch_t b;
    uint64_t entries = 0, indexed = 0;
    int rc;
    uint64_t mark = 0;
    while ((rc = rz_store_pseud_batch(s, mark, RZ_PINDEX_BATCH, &b)) > 0) {
        entries += b.entries;
        indexed += b.indexed;
        mark = b.mark;
    }
    double t1 = s_now();
    if (rc < 0)
        return 1;
    rz_store_close(&s);

    /* the index's pages, read from the file */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
        mdb_env_open(env, dir, MDB_RDONLY, 0600) ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
        mdb_dbi_open(txn, "pseudonyms", 0, &dbi) || mdb_stat(txn, dbi, &st))
        return 1;
    uint64_t pages =
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    uint64_t bytes = pages * st.ms_psize;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    printf("{\"tax_events\":%" PRIu64 ",\"other_events\":%" PRIu64
           ",\"indexed\":%" PRIu64 ",\"entries\":%" PRIu64
           ",\"seconds\":%.3f,\"ms_per_1000_tax\":%.2f,\"index_bytes\":%" PRIu64
           ",\"bytes_per_tax_event\":%.1f}\n",
           tax, other, indexed, entries, t1 - t0, (t1 - t0) * 1e6 / (double)tax,
           bytes, (double)bytes / (double)tax);
    if (argc <= 2) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
