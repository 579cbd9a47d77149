/* test_access.c - the principals file and every access decision */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "access.h"
#include "ratusz/errors.h"
#include "ratusz/ratusz.h"
#include "store.h"

/* A deterministic key: 32 bytes from seed, and its Z85 text. */
static void s_key(uint8_t seed, uint8_t key[32], char z85[41])
{
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(seed * 31 + i);
    assert_non_null(zmq_z85_encode(z85, key, 32));
}

static char s_dir[128];
static char s_file[256]; /* s_dir/principals.yaml: key files are beside */

static void s_write(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_setup(void **state)
{
    (void)state;
    uint8_t k[32];
    char z[41], text[256], path[256];
    snprintf(s_dir, sizeof s_dir, "/tmp/test_access.XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(path, sizeof path, "%s/keys", s_dir);
    if (mkdir(path, 0700))
        return -1;
    snprintf(s_file, sizeof s_file, "%s/principals.yaml", s_dir);
    s_key(2, k, z);
    snprintf(text, sizeof text,
             "# ratusz public key\nname: operator\npublic: %s\n", z);
    s_write("keys/operator.pub", text);
    s_write("keys/bad.pub", "name: bad\npublic: tooshort\n");
    s_key(9, k, z);
    snprintf(text, sizeof text, "name: x\npublic: %s\nsecret: %s\n", z, z);
    s_write("keys/x.key", text);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[300];
    rz_access_shutdown();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The grants most tests use: principals with keys seeded 1, 2, 3, 4. */
static int s_load_sample(char *err, size_t err_len)
{
    uint8_t k[32];
    char z1[41], z3[41], z4[41], yaml[2048];
    s_key(1, k, z1);
    s_key(3, k, z3);
    s_key(4, k, z4);
    snprintf(yaml, sizeof yaml,
             "# who may do what\n"
             "principals:\n"
             "  adapter-tax:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/2261011/tax/*\"]\n"
             "    publish_tenants: [\"2261011\"]\n"
             "    read: [\"2261011.tax.\", \"2261011.tax.assessment.\"]\n"
             "    groups: [\"sink-tax-*\"]\n"
             "  operator:\n"
             "    key_file: keys/operator.pub\n"
             "    read: [\"\"]\n"
             "    admin: [stats, consumers, report]\n"
             "  auditor@gmina.pl:\n"
             "    key: \"%s\"\n"
             "    read: [\"2261011.budget.\", \"2261011.tax.\"]\n"
             "    personal_data: true\n"
             "    admin: [audit, verify]\n"
             "  bridge.kafka:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"*\"]\n"
             "    publish_tenants: \"*\"\n",
             z1, z3, z4);
    FILE *f = fopen(s_file, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    return rz_access_load(s_file, err, err_len);
}

/* ===========================================================================
 * Security off
 */

static void add_count(const char *p, size_t n, void *user)
{
    (void)p, (void)n;
    (*(int *)user)++;
}

static void test_access_off_allows_everything(void **state)
{
    (void)state;
    char why[256] = "x";
    uint8_t k[32];
    char z[41], name[RZ_PRINCIPAL_MAX];
    int n = 0;
    assert_int_equal(rz_access_load(NULL, why, sizeof why), 0);
    assert_int_equal(rz_access_enabled(), 0);
    assert_int_equal(
        rz_access_publish("anonymous", "/x", "2261011", "tax", why, sizeof why),
        0);
    assert_string_equal(why, "");
    assert_int_equal(rz_access_admin("anonymous", "reload", why, sizeof why),
                     0);
    assert_int_equal(rz_access_group("anonymous", "g", why, sizeof why), 0);
    assert_int_equal(rz_access_personal("anonymous"), 1);
    assert_int_equal(rz_access_read_prefix("anonymous", "", why, sizeof why),
                     RZ_READ_ALL);
    assert_int_equal(rz_access_topic("anonymous", "a.b", 3), 1);
    assert_int_equal(rz_access_subscribe("anonymous", "", 0, add_count, &n), 1);
    assert_int_equal(n, 1);
    s_key(1, k, z);
    assert_int_equal(rz_access_key(k, name, sizeof name), RZ_EDENIED);
    Ratusz__V1__Whoami w;
    rz_access_whoami("anonymous", &w);
    assert_string_equal(w.principal, "anonymous");
    assert_int_equal(w.security, 0);
    assert_int_equal(w.personal_data, 1);
    assert_int_equal(w.n_read, 1);
    assert_string_equal(w.read[0], "");
    assert_int_equal(w.n_admin, 7);
}

/* ===========================================================================
 * Keys and principals
 */

static void test_access_key_maps_to_principal(void **state)
{
    (void)state;
    char err[512] = "", name[RZ_PRINCIPAL_MAX];
    uint8_t k[32];
    char z[41];
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    assert_int_equal(rz_access_enabled(), 1);
    s_key(1, k, z);
    assert_int_equal(rz_access_key(k, name, sizeof name), 0);
    assert_string_equal(name, "adapter-tax");
    s_key(2, k, z); /* from keys/operator.pub */
    assert_int_equal(rz_access_key(k, name, sizeof name), 0);
    assert_string_equal(name, "operator");
    s_key(3, k, z);
    assert_int_equal(rz_access_key(k, name, sizeof name), 0);
    assert_string_equal(name, "auditor@gmina.pl");
    s_key(7, k, z);
    assert_int_equal(rz_access_key(k, name, sizeof name), RZ_EDENIED);
    assert_string_equal(name, "");
}

static void test_access_principal_reads_user_id(void **state)
{
    (void)state;
    zmq_msg_t msg;
    char out[RZ_PRINCIPAL_MAX];
    zmq_msg_init(&msg);
    rz_access_principal(&msg, out, sizeof out);
    assert_string_equal(out, "anonymous"); /* no connection: no User-Id */
    zmq_msg_close(&msg);
}

/* ===========================================================================
 * Decisions
 */

static void test_access_publish(void **state)
{
    (void)state;
    char err[512] = "", why[512];
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    assert_int_equal(rz_access_publish("adapter-tax", "/2261011/tax/decl",
                                       "2261011", "tax", why, sizeof why),
                     0);
    assert_string_equal(why, "");
    assert_int_equal(rz_access_publish("adapter-tax", "/2261011/budget/x",
                                       "2261011", "budget", why, sizeof why),
                     RZ_EDENIED);
    assert_string_equal(why, "principal 'adapter-tax' may not publish source "
                             "'/2261011/budget/x' (grants: /2261011/tax/*)");
    assert_int_equal(rz_access_publish("adapter-tax", "/2261011/tax/decl",
                                       "1261011", "tax", why, sizeof why),
                     RZ_EDENIED);
    assert_string_equal(why, "principal 'adapter-tax' may not publish for "
                             "tenant '1261011' (grants: 2261011)");
    /* the pattern must match the whole source */
    assert_int_equal(rz_access_publish("adapter-tax", "x/2261011/tax/decl",
                                       "2261011", "tax", why, sizeof why),
                     RZ_EDENIED);
    /* a principal without publish grants */
    assert_int_equal(
        rz_access_publish("operator", "/a", "2261011", "tax", why, sizeof why),
        RZ_EDENIED);
    assert_string_equal(why, "principal 'operator' may not publish source "
                             "'/a' (grants: none)");
    /* "*" for sources and tenants */
    assert_int_equal(rz_access_publish("bridge.kafka", "/kafka/x", "12", "env",
                                       why, sizeof why),
                     0);
    assert_int_equal(
        rz_access_publish("nobody", "/a", "2261011", "tax", why, sizeof why),
        RZ_EDENIED);
    assert_string_equal(why,
                        "principal 'nobody' is not in the principals file");
    assert_int_equal(
        rz_access_publish("anonymous", "/a", "2261011", "tax", why, sizeof why),
        RZ_EDENIED);
}

static void test_access_admin_groups_personal(void **state)
{
    (void)state;
    char err[512] = "", why[512];
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    assert_int_equal(rz_access_admin("operator", "stats", why, sizeof why), 0);
    assert_int_equal(rz_access_admin("operator", "report", why, sizeof why), 0);
    assert_int_equal(rz_access_admin("operator", "audit", why, sizeof why),
                     RZ_EDENIED);
    assert_string_equal(why, "principal 'operator' may not use admin action "
                             "'audit' (grants: stats, consumers, report)");
    assert_int_equal(
        rz_access_admin("auditor@gmina.pl", "verify", why, sizeof why), 0);
    assert_int_equal(rz_access_admin("adapter-tax", "stats", why, sizeof why),
                     RZ_EDENIED);
    assert_int_equal(rz_access_admin("operator", "bogus", why, sizeof why),
                     RZ_EDENIED);

    assert_int_equal(
        rz_access_group("adapter-tax", "sink-tax-1", why, sizeof why), 0);
    assert_int_equal(
        rz_access_group("adapter-tax", "sink-tax-", why, sizeof why), 0);
    assert_int_equal(
        rz_access_group("adapter-tax", "sink-budget-1", why, sizeof why),
        RZ_EDENIED);
    assert_string_equal(why, "principal 'adapter-tax' may not use consumer "
                             "group 'sink-budget-1' (grants: sink-tax-*)");
    assert_int_equal(rz_access_group("operator", "x", why, sizeof why),
                     RZ_EDENIED);

    assert_int_equal(rz_access_personal("auditor@gmina.pl"), 1);
    assert_int_equal(rz_access_personal("operator"), 0);
    assert_int_equal(rz_access_personal("nobody"), 0);
}

static void test_access_read_prefix_and_topic(void **state)
{
    (void)state;
    char err[512] = "", why[512];
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    const char *a = "auditor@gmina.pl";
    /* inside a grant: all */
    assert_int_equal(
        rz_access_read_prefix(a, "2261011.budget.", why, sizeof why),
        RZ_READ_ALL);
    assert_int_equal(rz_access_read_prefix(a, "2261011.budget.execution.v1",
                                           why, sizeof why),
                     RZ_READ_ALL);
    /* wider: some */
    assert_int_equal(rz_access_read_prefix(a, "", why, sizeof why),
                     RZ_READ_SOME);
    assert_int_equal(rz_access_read_prefix(a, "2261011.", why, sizeof why),
                     RZ_READ_SOME);
    assert_int_equal(rz_access_read_prefix(a, "2261011.bud", why, sizeof why),
                     RZ_READ_SOME);
    /* beside: denied */
    assert_int_equal(rz_access_read_prefix(a, "2261011.gis.", why, sizeof why),
                     RZ_EDENIED);
    assert_string_equal(why, "principal 'auditor@gmina.pl' may not read "
                             "'2261011.gis.' (grants: 2261011.budget., "
                             "2261011.tax.)");
    assert_int_equal(rz_access_read_prefix("bridge.kafka", "", why, sizeof why),
                     RZ_EDENIED);
    assert_string_equal(why, "principal 'bridge.kafka' may not read '' "
                             "(grants: none)");
    assert_int_equal(rz_access_read_prefix("operator", "", why, sizeof why),
                     RZ_READ_ALL);
    assert_int_equal(rz_access_read_prefix("nobody", "", why, sizeof why),
                     RZ_EDENIED);

    const char *t1 = "2261011.budget.execution.v1";
    const char *t2 = "2261011.gis.parcel.v1";
    assert_int_equal(rz_access_topic(a, t1, strlen(t1)), 1);
    assert_int_equal(rz_access_topic(a, t2, strlen(t2)), 0);
    /* the length counts, not a NUL */
    assert_int_equal(rz_access_topic(a, t1, 10), 0);
    assert_int_equal(rz_access_topic("operator", t2, strlen(t2)), 1);
    assert_int_equal(rz_access_topic("bridge.kafka", t1, strlen(t1)), 0);
    assert_int_equal(rz_access_topic("nobody", t1, strlen(t1)), 0);
}

typedef struct s_subs {
    int n;
    char p[8][64];
    size_t len[8];
} s_subs_t;

static void add_sub(const char *p, size_t n, void *user)
{
    s_subs_t *s = user;
    assert_true(s->n < 8 && n < 64);
    memcpy(s->p[s->n], p, n);
    s->len[s->n++] = n;
}

static void test_access_subscribe(void **state)
{
    (void)state;
    char err[512] = "";
    s_subs_t s;
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    /* inside a grant: the prefix as asked */
    memset(&s, 0, sizeof s);
    assert_int_equal(rz_access_subscribe("auditor@gmina.pl", "2261011.tax.a",
                                         13, add_sub, &s),
                     1);
    assert_int_equal(s.len[0], 13);
    assert_memory_equal(s.p[0], "2261011.tax.a", 13);
    /* wider: each granted prefix under it */
    memset(&s, 0, sizeof s);
    assert_int_equal(
        rz_access_subscribe("auditor@gmina.pl", "", 0, add_sub, &s), 2);
    assert_memory_equal(s.p[0], "2261011.budget.", 15);
    assert_memory_equal(s.p[1], "2261011.tax.", 12);
    /* a grant inside another one is not subscribed twice */
    memset(&s, 0, sizeof s);
    assert_int_equal(
        rz_access_subscribe("adapter-tax", "2261011", 7, add_sub, &s), 1);
    assert_int_equal(s.len[0], 12);
    /* the bytes may be anything: a NUL is not the end */
    memset(&s, 0, sizeof s);
    assert_int_equal(rz_access_subscribe("auditor@gmina.pl", "2261011\0tax", 11,
                                         add_sub, &s),
                     0);
    assert_int_equal(rz_access_subscribe("auditor@gmina.pl", "2261011.tax.\0x",
                                         14, add_sub, &s),
                     1);
    assert_int_equal(s.len[0], 14);
    assert_memory_equal(s.p[0], "2261011.tax.\0x", 14);
    /* denied */
    memset(&s, 0, sizeof s);
    assert_int_equal(rz_access_subscribe("bridge.kafka", "", 0, add_sub, &s),
                     0);
    assert_int_equal(rz_access_subscribe("nobody", "", 0, add_sub, &s), 0);
    assert_int_equal(s.n, 0);
    /* read [""]: anything as asked */
    assert_int_equal(rz_access_subscribe("operator", "", 0, add_sub, &s), 1);
    assert_int_equal(s.len[0], 0);
}

static void test_access_whoami(void **state)
{
    (void)state;
    char err[512] = "";
    Ratusz__V1__Whoami w;
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    rz_access_whoami("adapter-tax", &w);
    assert_string_equal(w.principal, "adapter-tax");
    assert_int_equal(w.security, 1);
    assert_int_equal(w.personal_data, 0);
    assert_int_equal(w.n_publish_sources, 1);
    assert_string_equal(w.publish_sources[0], "/2261011/tax/*");
    assert_int_equal(w.n_publish_tenants, 1);
    assert_string_equal(w.publish_tenants[0], "2261011");
    assert_int_equal(w.n_read, 2); /* as written */
    assert_int_equal(w.n_groups, 1);
    assert_int_equal(w.n_admin, 0);
    rz_access_whoami("auditor@gmina.pl", &w);
    assert_int_equal(w.personal_data, 1);
    assert_int_equal(w.n_admin, 2);
    assert_string_equal(w.admin[1], "verify");
    rz_access_whoami("nobody", &w);
    assert_int_equal(w.security, 1);
    assert_int_equal(w.n_read, 0);
    assert_int_equal(w.personal_data, 0);
}

/* ===========================================================================
 * Validation: every error names FILE:LINE, and changes nothing
 */

static void test_access_errors_name_file_line(void **state)
{
    (void)state;
    uint8_t k[32];
    char z1[41], z2[41];
    s_key(1, k, z1);
    s_key(2, k, z2);
    char p1[128], p2[128], p1_2[256];
    snprintf(p1, sizeof p1, "    key: \"%s\"\n", z1);
    snprintf(p2, sizeof p2, "    key: \"%s\"\n", z2);
    snprintf(p1_2, sizeof p1_2, "%s%s", p1, p2);
    struct {
        const char *head, *key, *tail, *want;
    } cases[] = {
        {"principals:\n  a:\n", p1, "    reed: [x]\n",
         "P:4: unknown key 'principals.a.reed'"},
        {"principals:\n  a:\n", p1, "  a:\n    read: []\n",
         "P:4: key 'principals': duplicate section 'a' (first at line 2)"},
        {"principals:\n  a:\n", p1, "  b:\n    key: \"" /* z1 again */,
         NULL}, /* filled below */
        {"principals:\n  a:\n", "    key: \"abc\"\n", "",
         "P:3: principal 'a': key is not 40 Z85 characters"},
        {"principals:\n  a:\n",
         "    key: \"o!8fsAzow}Dsj{go&<FArsmeUF?7h=rsO[-Bah\\\"7\"\n", "",
         "P:3: principal 'a': key is not valid Z85"},
        {"principals:\n  a:\n", p1, "    admin: [stats, rload]\n",
         "P:4: principal 'a': admin: unknown action 'rload' (want stats, "
         "consumers, report, reload, audit, verify or backup)"},
        {"principals:\n  a:\n", p1,
         "    publish_sources: [\"/x/*\"]\n    publish_tenants: [226101]\n",
         "P:5: principal 'a': publish_tenants: '226101' is not a TERC code "
         "(2, 4 or 7 digits) or '*'"},
        {"principals:\n  a:\n", p1,
         "    publish_sources: [\"/x/*\"]\n    publish_tenants: [\"22a1\"]\n",
         "P:5: principal 'a': publish_tenants: '22a1' is not a TERC code "
         "(2, 4 or 7 digits) or '*'"},
        {"principals:\n  a:\n", p1, "    publish_sources: [\"/x/*\"]\n",
         "P:4: principal 'a': publish_sources and publish_tenants go "
         "together (one without the other allows nothing)"},
        {"principals:\n  \"\":\n", p1, "",
         "P:2: a principal with an empty name"},
        {"principals:\n  \"a b\":\n", p1, "",
         "P:2: principal 'a b': a name may only hold A-Z a-z 0-9 . _ @ -"},
        {"principals:\n  anonymous:\n", p1, "",
         "P:2: principal 'anonymous': the name is reserved for clients "
         "without CURVE"},
        {"principals:\n  a:\n", "    read: [x]\n", "",
         "P:2: principal 'a': no key (give key or key_file, or "
         "console_password for a web console login only)"},
        {"principals:\n  a:\n", p1, "    key_file: keys/operator.pub\n",
         "P:4: principal 'a': give key or key_file, not both"},
        {"principals:\n  a:\n", "    key_file: keys/none.pub\n", "",
         "P:3: principal 'a': key_file 'keys/none.pub': cannot open: No such "
         "file or directory"},
        {"principals:\n  a:\n", "    key_file: keys/bad.pub\n", "",
         "P:3: principal 'a': key_file 'keys/bad.pub' line 2: public key is "
         "not 40 Z85 characters"},
        {"principals:\n  a:\n", "    key_file: keys/x.key\n", "",
         "P:3: principal 'a': key_file 'keys/x.key' holds a secret key: give "
         "the .pub file"},
        {"principals:\n  a:\n", p1, "    read:\n",
         "P:4: principal 'a': read is empty: write [] for nothing, [\"\"] for "
         "everything"},
        {"principals:\n  a:\n", p1, "    groups: [\"\"]\n",
         "P:4: principal 'a': groups: an empty pattern"},
        {"principals:\n  a:\n", p1, "    personal_data: maybe\n",
         "P:4: key 'principals.a.personal_data': invalid value 'maybe' (want "
         "true or false)"},
        {"principals:\n  a:\n", p1, "    key: [x]\n",
         "P:4: key 'principals.a': duplicate entry 'key'"},
        {"principals:\n  a:\n", "    key: [x]\n", "",
         "P:3: key 'principals.a.key': value must be a scalar, not a list"},
        {"principal:\n  a:\n", p1, "", "P:1: unknown key 'principal'"},
        {"", "", "",
         "P:1: no principals (a 'principals:' mapping of name: "
         "grants is needed)"},
        {"principals:\n  a: [x]\n", "", "",
         "P:2: key 'principals.a': a section must be a mapping, not a list"},
    };
    char dup[1024];
    snprintf(dup, sizeof dup, "%s\"\n", z1);
    char err[512], yaml[2048], name[RZ_PRINCIPAL_MAX];

    /* good grants first: every failure below must leave them */
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[512];
        /* paths are relative to the file, messages name what was opened */
        snprintf(yaml, sizeof yaml, "%s%s%s%s", cases[i].head, cases[i].key,
                 cases[i].tail, i == 2 ? dup : "");
        if (i == 2)
            snprintf(want, sizeof want,
                     "P:4: principal 'b': same key as "
                     "principal 'a' (line 2)");
        else
            snprintf(want, sizeof want, "%s", cases[i].want);
        char *file = NULL;
        char fname[300];
        snprintf(fname, sizeof fname, "%s/P", s_dir);
        int rc =
            rz_access_load_string(yaml, strlen(yaml), fname, err, sizeof err);
        if (rc != RZ_ECONFIG)
            fail_msg("case %zu: rc %d for:\n%s", i, rc, yaml);
        /* the message names the file as given: strip the directory */
        file = strstr(err, "/P:");
        char got[512];
        snprintf(got, sizeof got, "%s", file ? file + 1 : err);
        /* key file paths are printed in full: shorten them as well */
        char *d;
        while ((d = strstr(got, s_dir)) != NULL)
            memmove(d, d + strlen(s_dir) + 1,
                    strlen(d + strlen(s_dir) + 1) + 1);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s", i, got, want);
    }
    /* the good grants stayed */
    uint8_t k1[32];
    char z[41];
    s_key(1, k1, z);
    assert_int_equal(rz_access_key(k1, name, sizeof name), 0);
    assert_string_equal(name, "adapter-tax");
    assert_int_equal(rz_access_enabled(), 1);

    /* a reload from a file that is gone fails and keeps them too */
    char gone[300];
    snprintf(gone, sizeof gone, "%s/gone.yaml", s_dir);
    assert_int_equal(rz_access_load(gone, err, sizeof err), RZ_ECONFIG);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(rz_access_key(k1, name, sizeof name), 0);
}

static void test_access_reload_replaces_grants(void **state)
{
    (void)state;
    char err[512], yaml[512], name[RZ_PRINCIPAL_MAX];
    uint8_t k1[32], k5[32];
    char z1[41], z5[41];
    s_key(1, k1, z1);
    s_key(5, k5, z5);
    assert_int_equal(s_load_sample(err, sizeof err), 4);
    snprintf(yaml, sizeof yaml,
             "principals:\n  newcomer:\n    key: \"%s\"\n    read: [\"\"]\n",
             z5);
    assert_int_equal(
        rz_access_load_string(yaml, strlen(yaml), "new.yaml", err, sizeof err),
        1);
    assert_int_equal(rz_access_key(k1, name, sizeof name), RZ_EDENIED);
    assert_int_equal(rz_access_key(k5, name, sizeof name), 0);
    assert_string_equal(name, "newcomer");
    assert_int_equal(rz_access_topic("adapter-tax", "2261011.tax.x", 13), 0);
    assert_int_equal(rz_access_topic("newcomer", "2261011.tax.x", 13), 1);
    /* and off again */
    assert_int_equal(rz_access_load("", err, sizeof err), 0);
    assert_int_equal(rz_access_enabled(), 0);
    assert_int_equal(rz_access_topic("adapter-tax", "2261011.tax.x", 13), 1);
}

static void test_access_example_file_loads(void **state)
{
    (void)state;
    char err[512] = "", why[256];
    int n = rz_access_load(RZ_SOURCE_DIR "/deploy/principals.example.yaml", err,
                           sizeof err);
    if (n < 0)
        fail_msg("%s", err);
    assert_int_equal(n, 8);
    assert_int_equal(rz_access_publish("adapter-tax", "/1261011/tax/decl",
                                       "1261011", "tax", why, sizeof why),
                     0);
    assert_int_equal(rz_access_publish("adapter-tax", "/1261011/budget/x",
                                       "1261011", "budget", why, sizeof why),
                     RZ_EDENIED);
    assert_int_equal(rz_access_personal("operator"), 0);
    assert_int_equal(rz_access_personal("iod@gmina.example.pl"), 1);
    assert_int_equal(
        rz_access_admin("iod@gmina.example.pl", "audit", why, sizeof why), 0);
    assert_int_equal(
        rz_access_group("bridge-kafka", "kafka-budget", why, sizeof why), 0);
}

/* ===========================================================================
 * Web console logins
 */

#define S_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"

static void test_access_console_login_without_key(void **state)
{
    (void)state;
    char err[512] = "", hash[256], name[RZ_PRINCIPAL_MAX];
    const char *yaml = "principals:\n"
                       "  clerk:\n"
                       "    console_password: \"" S_HASH "\"\n"
                       "    read: [\"1261011.tax.\", \"1261011.gis.\"]\n"
                       "  clerk2:\n"
                       "    console_password: \"" S_HASH "\"\n"
                       "    read: [\"\"]\n"
                       "    personal_data: true\n"
                       "    admin: [stats]\n";
    /* two logins without keys are not "the same key" */
    int n = rz_access_load_string(yaml, strlen(yaml), "c.yaml", err,
                                  sizeof err);
    if (n < 0)
        fail_msg("%s", err);
    assert_int_equal(n, 2);
    /* no CURVE key names a login-only principal, the zero key included */
    uint8_t zero[32] = {0};
    assert_int_equal(rz_access_key(zero, name, sizeof name), RZ_EDENIED);
    assert_int_equal(rz_access_console_hash("clerk", hash, sizeof hash), 0);
    assert_string_equal(hash, S_HASH);
    assert_int_equal(rz_access_console_hash("nobody", hash, sizeof hash),
                     RZ_EDENIED);

    rz_access_view_t v;
    assert_int_equal(rz_access_view("clerk", &v), 0);
    assert_int_equal(v.personal, 0);
    assert_int_equal(v.stats, 0);
    assert_int_equal(v.nreads, 2);
    assert_int_equal(rz_access_view_topic(&v, "1261011.tax.decl", 16), 1);
    assert_int_equal(rz_access_view_topic(&v, "1261011.budget.x", 16), 0);
    assert_int_equal(rz_access_view_prefix(&v, "1261011.tax."), RZ_READ_ALL);
    assert_int_equal(rz_access_view_prefix(&v, "1261011."), RZ_READ_SOME);
    assert_int_equal(rz_access_view_prefix(&v, "02."), RZ_EDENIED);
    rz_access_view_free(&v);
    assert_int_equal(rz_access_view("clerk2", &v), 0);
    assert_int_equal(v.personal, 1);
    assert_int_equal(v.stats, 1);
    assert_int_equal(v.read_all, 1);
    assert_int_equal(rz_access_view_topic(&v, "02.gis.x", 8), 1);
    rz_access_view_free(&v);

    /* a reload without the password ends the login */
    uint8_t k[32];
    char z[41], y2[256];
    s_key(7, k, z);
    snprintf(y2, sizeof y2,
             "principals:\n"
             "  clerk:\n"
             "    key: \"%s\"\n"
             "    read: [\"\"]\n",
             z);
    assert_int_equal(rz_access_load_string(y2, strlen(y2), "c.yaml", err,
                                           sizeof err),
                     1);
    assert_int_equal(rz_access_view("clerk", &v), RZ_EDENIED);
    assert_int_equal(rz_access_console_hash("clerk", hash, sizeof hash),
                     RZ_EDENIED);
    rz_access_shutdown();
    assert_int_equal(rz_access_view("clerk", &v), RZ_EDENIED);
}

static void test_access_console_password_not_argon2id_is_refused(void **state)
{
    (void)state;
    char err[512] = "";
    const char *yaml = "principals:\n"
                       "  clerk:\n"
                       "    console_password: \"secret\"\n";
    assert_int_equal(rz_access_load_string(yaml, strlen(yaml), "c.yaml", err,
                                           sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "c.yaml:3:"));
    assert_non_null(strstr(err, "not an Argon2id hash"));
    const char *none = "principals:\n"
                       "  clerk:\n"
                       "    read: [\"\"]\n";
    assert_int_equal(rz_access_load_string(none, strlen(none), "c.yaml", err,
                                           sizeof err),
                     RZ_ECONFIG);
    assert_non_null(strstr(err, "console_password"));
}

/* ===========================================================================
 * The ZAP thread against reloads
 */

typedef struct s_hammer {
    volatile int stop;
    volatile long lookups;
    long found;
    int bad;
} s_hammer_t;

static void *s_hammer_run(void *arg)
{
    s_hammer_t *h = arg;
    uint8_t k[2][32];
    char z[41], name[RZ_PRINCIPAL_MAX];
    s_key(1, k[0], z);
    s_key(5, k[1], z);
    while (!h->stop) {
        for (int i = 0; i < 2; i++) {
            int rc = rz_access_key(k[i], name, sizeof name);
            h->lookups++;
            if (rc == 0) {
                h->found++;
                if (strcmp(name, i ? "newcomer" : "adapter-tax") != 0)
                    h->bad++;
            } else if (rc != RZ_EDENIED) {
                h->bad++;
            }
        }
    }
    return NULL;
}

static void test_access_reload_while_zap_looks_up(void **state)
{
    (void)state;
    char err[512], a[512], b[512];
    uint8_t k[32];
    char z1[41], z5[41];
    s_key(1, k, z1);
    s_key(5, k, z5);
    snprintf(a, sizeof a, "principals:\n  adapter-tax:\n    key: \"%s\"\n", z1);
    snprintf(b, sizeof b, "principals:\n  newcomer:\n    key: \"%s\"\n", z5);
    s_hammer_t h[2];
    pthread_t t[2];
    memset(h, 0, sizeof h);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_hammer_run, &h[i]), 0);
    /* on a loaded machine the threads may start late: reload only once
     * both are looking keys up */
    for (int i = 0; i < 2; i++)
        while (h[i].lookups < 100)
            usleep(1000);
    for (int i = 0; i < 400; i++) {
        const char *y = i % 3 == 0 ? a : i % 3 == 1 ? b : NULL;
        if (y)
            assert_int_equal(
                rz_access_load_string(y, strlen(y), "r.yaml", err, sizeof err),
                1);
        else
            assert_int_equal(rz_access_load(NULL, err, sizeof err), 0);
    }
    for (int i = 0; i < 2; i++) {
        h[i].stop = 1;
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].bad, 0);
        assert_true(h[i].lookups > 0);
    }
}

/* ===========================================================================
 * The topic of stored bytes
 */

static size_t s_pack(const Ratusz__V1__Event *ev, uint8_t *buf, size_t cap)
{
    size_t n = ratusz__v1__event__get_packed_size(ev);
    assert_true(n <= cap);
    return ratusz__v1__event__pack(ev, buf);
}

static void test_access_event_topic_equals_rz_event_topic(void **state)
{
    (void)state;
    static const struct {
        const char *tenant, *type;
    } evs[] = {
        {"1261011", "pl.gov.gmina.budget.execution.v1"},
        {"2261011", "pl.gov.gmina.tax.assessment.v1"},
        {"22", "org.example.custom.thing.v2"},
        {"2261", "pl.gov.gmina."},
        {"1261011", "pl.gov.gmin"},
    };
    uint8_t buf[4096], stamp[RZ_STORE_STAMP_MAX + 64];
    char want[RZ_TOPIC_MAX + 1], got[RZ_TOPIC_MAX + 1];
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
        Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
        uint8_t body[300];
        memset(body, 0x85, sizeof body); /* long enough for 2-byte lengths */
        ev.id = (char *)"e-1";
        ev.source = (char *)"/2261011/budget/besti";
        ev.type = (char *)evs[i].type;
        ev.subject = (char *)"parcel:221101_1.0001.161/8";
        ev.tenant = (char *)evs[i].tenant;
        ev.time = -1; /* a 10-byte varint */
        raw.content_type = (char *)"application/octet-stream";
        raw.bytes.data = body;
        raw.bytes.len = sizeof body;
        ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
        ev.raw = &raw;
        size_t n = s_pack(&ev, buf, sizeof buf);
        int wn = rz_event_topic(&ev, want, sizeof want);
        assert_true(wn > 0);
        assert_int_equal(rz_access_event_topic(buf, n, got, sizeof got), wn);
        assert_string_equal(got, want);
        /* as stored: the broker's stamp after the producer's bytes */
        size_t sn = rz_store_stamp(stamp, 12345678901ull, 1700000000000000ll,
                                   "adapter-budget", 14);
        memcpy(buf + n, stamp, sn);
        assert_int_equal(rz_access_event_topic(buf, n + sn, got, sizeof got),
                         wn);
        assert_string_equal(got, want);
        /* truncated anywhere inside the last field: refused */
        for (size_t cut = 1; cut < sn; cut++)
            if (rz_access_event_topic(buf, n + sn - cut, got, sizeof got) > 0)
                assert_string_equal(got, want); /* cut at a field boundary */
        for (size_t cut = 1; cut <= n; cut++) {
            int rc = rz_access_event_topic(buf, n - cut, got, sizeof got);
            /* every prefix of these events either ends inside a field or
             * misses the tenant or the type */
            if (rc != RZ_EDECODE && rc != (int)wn)
                fail_msg("event %zu cut %zu: rc %d", i, cut, rc);
        }
        /* a buffer too small */
        assert_int_equal(rz_access_event_topic(buf, n, got, (size_t)wn),
                         RZ_EINVAL);
    }
}

static void test_access_event_topic_last_value_wins_and_garbage(void **state)
{
    (void)state;
    char got[RZ_TOPIC_MAX + 1];
    /* type "a.b", tenant "12", a fixed64, a fixed32, then tenant "34" */
    static const uint8_t two[] = {0x1a, 3, 'a', '.', 'b', 0x2a, 2, '1', '2',
                                  0x39, 1, 2,   3,   4,   5,    6, 7,   8,
                                  0x3d, 1, 2,   3,   4,   0x2a, 2, '3', '4'};
    assert_int_equal(rz_access_event_topic(two, sizeof two, got, sizeof got),
                     6);
    assert_string_equal(got, "34.a.b");
    /* the string ends at a NUL, as a decoded one does */
    static const uint8_t nul[] = {0x1a, 3, 'a', 0, 'b', 0x2a, 2, '1', '2'};
    assert_int_equal(rz_access_event_topic(nul, sizeof nul, got, sizeof got),
                     4);
    assert_string_equal(got, "12.a");
    /* no tenant, no type, empty */
    static const uint8_t notenant[] = {0x1a, 3, 'a', '.', 'b'};
    assert_int_equal(
        rz_access_event_topic(notenant, sizeof notenant, got, sizeof got),
        RZ_EDECODE);
    assert_int_equal(rz_access_event_topic(NULL, 0, got, sizeof got),
                     RZ_EDECODE);
    /* a length past the end, a group, field 0, type as a varint */
    static const uint8_t past[] = {0x2a, 9, '1', '2', 0x1a, 1, 'a'};
    static const uint8_t group[] = {0x1a, 1, 'a', 0x2a, 1, '1', 0x0b, 0x0c};
    static const uint8_t zero[] = {0x02, 0, 0x1a, 1, 'a', 0x2a, 1, '1'};
    static const uint8_t varint[] = {0x18, 1, 0x2a, 1, '1'};
    static const uint8_t longv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(rz_access_event_topic(past, sizeof past, got, sizeof got),
                     RZ_EDECODE);
    assert_int_equal(
        rz_access_event_topic(group, sizeof group, got, sizeof got),
        RZ_EDECODE);
    assert_int_equal(rz_access_event_topic(zero, sizeof zero, got, sizeof got),
                     RZ_EDECODE);
    assert_int_equal(
        rz_access_event_topic(varint, sizeof varint, got, sizeof got),
        RZ_EDECODE);
    assert_int_equal(
        rz_access_event_topic(longv, sizeof longv, got, sizeof got),
        RZ_EDECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_off_allows_everything),
        cmocka_unit_test(test_access_key_maps_to_principal),
        cmocka_unit_test(test_access_principal_reads_user_id),
        cmocka_unit_test(test_access_publish),
        cmocka_unit_test(test_access_admin_groups_personal),
        cmocka_unit_test(test_access_read_prefix_and_topic),
        cmocka_unit_test(test_access_subscribe),
        cmocka_unit_test(test_access_whoami),
        cmocka_unit_test(test_access_errors_name_file_line),
        cmocka_unit_test(test_access_reload_replaces_grants),
        cmocka_unit_test(test_access_example_file_loads),
        cmocka_unit_test(test_access_reload_while_zap_looks_up),
        cmocka_unit_test(test_access_console_login_without_key),
        cmocka_unit_test(test_access_console_password_not_argon2id_is_refused),
        cmocka_unit_test(test_access_event_topic_equals_rz_event_topic),
        cmocka_unit_test(test_access_event_topic_last_value_wins_and_garbage),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
