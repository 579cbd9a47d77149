/* test_core_lmdb.c - the core's LMDB helpers: directories, the map kept
 * across runs and grown to a limit, one translation of LMDB's codes */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ratusz/core/lmdb.h"
#include "ratusz/errors.h"

static char s_root[64];

static int s_setup(void **state)
{
    (void)state;
    umask(022);
    strcpy(s_root, "/tmp/ratusz-corelmdb-XXXXXX");
    return mkdtemp(s_root) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_mkdirs_makes_parents_and_refuses_a_file(void **state)
{
    (void)state;
    char dir[128], file[128];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/a/b/c", s_root);
    assert_int_equal(rzc_mkdirs(dir, 0750), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(rzc_mkdirs(dir, 0750), 0); /* there already */
    snprintf(file, sizeof file, "%s/f", s_root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(rzc_mkdirs(file, 0750), -ENOTDIR);
}

static void test_open_keeps_the_map_an_earlier_run_grew(void **state)
{
    (void)state;
    char dir[128], err[256];
    MDB_env *env;
    size_t size = 0;
    snprintf(dir, sizeof dir, "%s/env", s_root);
    rzc_lmdb_opts_t o = {.dir = dir,
                         .dir_mode = 0700,
                         .file_mode = 0600,
                         .flags = MDB_NOTLS,
                         .max_dbs = 2,
                         .map_size = 1 << 20};
    assert_int_equal(rzc_lmdb_open(&env, &o, err, sizeof err), 0);
    assert_int_equal(rzc_lmdb_map_size(env), 1 << 20);
    /* a write makes data.mdb, so the next open finds an environment */
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {1, "k"}, v = {1, "v"};
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "t", MDB_CREATE, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    assert_int_equal(rzc_lmdb_grow(env, 3 << 20, &size), 0);
    assert_int_equal(size, 2 << 20);
    assert_int_equal(rzc_lmdb_grow(env, 3 << 20, &size), 0);
    assert_int_equal(size, 3 << 20); /* doubled, but only to the limit */
    assert_int_equal(rzc_lmdb_grow(env, 3 << 20, &size), MDB_MAP_FULL);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0); /* grown map saved */
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    assert_int_equal(rzc_lmdb_open(&env, &o, err, sizeof err), 0);
    assert_int_equal(rzc_lmdb_map_size(env), 3 << 20);
    mdb_env_close(env);
    o.map_size = 4 << 20; /* asked for more than it has: grows */
    assert_int_equal(rzc_lmdb_open(&env, &o, err, sizeof err), 0);
    assert_int_equal(rzc_lmdb_map_size(env), 4 << 20);
    mdb_env_close(env);
}

static void test_open_failure_names_the_path(void **state)
{
    (void)state;
    char dir[128], err[256];
    MDB_env *env = (MDB_env *)&env;
    snprintf(dir, sizeof dir, "%s/g", s_root);
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/g/env", s_root); /* under a file */
    rzc_lmdb_opts_t o = {.dir = dir, .dir_mode = 0700, .map_size = 1 << 20};
    assert_int_equal(rzc_lmdb_open(&env, &o, err, sizeof err), -ENOTDIR);
    assert_null(env);
    assert_non_null(strstr(err, dir));
}

static void test_lmdb_codes_translate_once(void **state)
{
    (void)state;
    assert_int_equal(rzc_lmdb_code(0), 0);
    assert_int_equal(rzc_lmdb_code(RZ_EINVAL), RZ_EINVAL);
    assert_int_equal(rzc_lmdb_code(RZ_ESTORE), RZ_ESTORE);
    assert_int_equal(rzc_lmdb_code(MDB_MAP_FULL), RZ_ESTOREFULL);
    assert_int_equal(rzc_lmdb_code(ENOSPC), RZ_EDISKFULL);
    assert_int_equal(rzc_lmdb_code(EIO), RZ_EDISKFULL);
    assert_int_equal(rzc_lmdb_code(MDB_CORRUPTED), RZ_ESTORE);
    assert_int_equal(rzc_lmdb_code(EACCES), RZ_ESTORE);
    assert_true(rzc_lmdb_is_lmdb(MDB_KEYEXIST));
    assert_false(rzc_lmdb_is_lmdb(RZ_ENOMEM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdirs_makes_parents_and_refuses_a_file),
        cmocka_unit_test(test_open_keeps_the_map_an_earlier_run_grew),
        cmocka_unit_test(test_open_failure_names_the_path),
        cmocka_unit_test(test_lmdb_codes_translate_once),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
