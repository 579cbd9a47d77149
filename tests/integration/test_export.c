/* test_export.c - `ratusz export` against the real broker with CURVE: one
 * principal with personal-data clearance publishes tax, GIS, environment
 * and budget events and exports them. The files are read back by other
 * programs: Python's csv and json modules, GDAL's ogrinfo.
 *
 * The tax events carry the made-up taxpayers of
 * tests/fixtures/tax/decyzje_2024_hel.txt (PESEL, name and address as the
 * tax adapter maps that file); none of their personal values may reach an
 * export, although the same principal's `ratusz query` shows them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define TENANT "2211011"
#define PESEL1 "80010100017"
#define NAME1 "TESTOWY JAN"
#define ADDR1 "ul. Przykładowa 1, 84-150 Hel"
#define ACCT1 "IN/0007311"
#define PESEL2 "75051500007"
#define NAME2 "ŹDŹBŁO-TESTOWA ZOFIA"
#define ADDR2 "ul. Przykładowa 1/2, 84-150 Hel"
#define T0 INT64_C(1710489600000000) /* 2024-03-15T08:00:00Z */
#define HOUR INT64_C(3600000000)
#define OGRINFO "/usr/bin/ogrinfo"

typedef struct ex {
    rzt_broker_t b;
    char dir[256];
    char key[300]; /* the clerk's secret key file */
    char srv_pub[41], srv_sec[41];
    char pub[41], sec[41]; /* the clerk: cleared, reads and publishes */
    char rkey[300];        /* the reader: tax only, no clearance */
    char rpub[41], rsec[41];
    const char *as; /* the key file s_cli runs with */
} ex_t;

static ex_t *S;

/* ------------------------------------------------------------------------
 * Set-up: the broker, the clerk, the events
 */

static rz_client_t *s_client(void)
{
    rz_client_opts_t o = {0};
    o.timeout_ms = 5000;
    o.curve_public = S->pub;
    o.curve_secret = S->sec;
    o.curve_server = S->srv_pub;
    rz_client_t *c = rz_client_new(S->b.front, &o);
    assert_non_null(c);
    return c;
}

static void s_publish(rz_client_t *c, Ratusz__V1__Event *ev, const char *id,
                      const char *type, const char *subject, int64_t time)
{
    char source[64];
    snprintf(source, sizeof source, "/" TENANT "/%.*s/test",
             (int)strcspn(type + strlen("pl.gov.gmina."), "."),
             type + strlen("pl.gov.gmina."));
    ev->id = (char *)id;
    ev->source = source;
    ev->type = (char *)type;
    ev->subject = (char *)subject;
    ev->tenant = TENANT;
    ev->time = time;
    uint64_t seq = 0;
    assert_int_equal(rzt_publish_sync(c, ev, &seq), 0);
    assert_true(seq > 0);
}

/* A decision of one taxpayer with one object, as the tax adapter maps a
 * line of decyzje_2024_hel.txt. */
static void s_tax(rz_client_t *c, const char *id, int64_t time,
                  Ratusz__V1__Party__Kind kind, const char *pesel,
                  const char *nip, const char *name, const char *addr,
                  int64_t tax)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__TaxAssessment ta = RATUSZ__V1__TAX_ASSESSMENT__INIT;
    Ratusz__V1__Party p = RATUSZ__V1__PARTY__INIT;
    Ratusz__V1__TaxObject o = RATUSZ__V1__TAX_OBJECT__INIT;
    Ratusz__V1__TaxObject *objs[] = {&o};
    p.kind = kind;
    p.pesel = (char *)pesel;
    p.nip = (char *)nip;
    p.name = (char *)name;
    p.address = (char *)addr;
    o.kind = "grunt";
    o.parcel_id = "221101_1.0001.170/3";
    o.use = "GPO";
    o.base_milli = 612000;
    o.base_unit = "m2";
    o.rate_grosze = 71;
    o.tax_grosze = tax;
    ta.document_id = (char *)id;
    ta.form = "decyzja";
    ta.tax_year = 2024;
    ta.taxpayer = &p;
    ta.n_objects = 1;
    ta.objects = objs;
    ta.total_grosze = tax;
    ta.account =
        kind == RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION ? "" : ACCT1;
    ta.due_date = T0 + 24 * HOUR;
    ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
    ev.tax = &ta;
    s_publish(c, &ev, id, "pl.gov.gmina.tax.assessment.v1",
              "parcel:221101_1.0001.170/3", time);
}

/* A parcel in EPSG:2180 written northing first (as GML has it), or a
 * point in EPSG:4326 as GeoJSON text. */
static void s_gis(rz_client_t *c, const char *id, int64_t time, int wgs84)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__GisFeature gf = RATUSZ__V1__GIS_FEATURE__INIT;
    Ratusz__V1__Geometry g = RATUSZ__V1__GEOMETRY__INIT;
    Ratusz__V1__GisFeature__PropertiesEntry pe =
        RATUSZ__V1__GIS_FEATURE__PROPERTIES_ENTRY__INIT;
    Ratusz__V1__GisFeature__PropertiesEntry *props[] = {&pe};
    char subject[80];
    snprintf(subject, sizeof subject, "parcel:221101_1.0001.%s", id);
    gf.feature_id = (char *)id;
    gf.kind = "parcel";
    gf.name = (char *)id;
    gf.area = 0.0123;
    gf.area_unit = "ha";
    pe.key = "name"; /* taken by the feature's own name */
    pe.value = "działka";
    gf.n_properties = 1;
    gf.properties = props;
    if (wgs84) {
        g.crs = "EPSG:4326";
        g.type = "Point";
        g.geojson = "{\"type\":\"Point\",\"coordinates\":[18.8003,54.6083]}";
    } else {
        g.crs = "EPSG:2180";
        g.type = "Polygon";
        g.axis_order = "yx";
        g.wkt = "POLYGON((720100.5 473200.25,720100.5 473230.25,"
                "720130.5 473230.25,720100.5 473200.25))";
    }
    gf.geometry = &g;
    ev.data_case = RATUSZ__V1__EVENT__DATA_GIS;
    ev.gis = &gf;
    s_publish(c, &ev, id, "pl.gov.gmina.gis.parcel.v1", subject, time);
}

static void s_env(rz_client_t *c, const char *id, int64_t time, int measured)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__AirQualityMeasurement m =
        RATUSZ__V1__AIR_QUALITY_MEASUREMENT__INIT;
    m.station_code = "PmHelWiejsk";
    m.parameter = "PM10";
    m.unit = "ug/m3";
    m.period_start = time;
    m.period_seconds = 3600;
    if (measured) {
        m.measured_case = RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
        m.value = 21.7;
    }
    ev.data_case = RATUSZ__V1__EVENT__DATA_AIR_QUALITY;
    ev.air_quality = &m;
    s_publish(c, &ev, id, "pl.gov.gmina.env.air.v1", "station:PmHelWiejsk",
              time);
}

/* Raw bytes in the tax domain: no schema marks reach them. */
static void s_raw_tax(rz_client_t *c, const char *id, int64_t time)
{
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    static const char body[] = "{\"pesel\":\"" PESEL1 "\"}";
    raw.content_type = "application/json";
    raw.bytes.data = (uint8_t *)body;
    raw.bytes.len = sizeof body - 1;
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    s_publish(c, &ev, id, "pl.gov.gmina.tax.note.v1", "", time);
}

static int s_setup(void **state)
{
    (void)state;
    S = calloc(1, sizeof *S);
    if (!S || rzt_tmpdir(S->dir, sizeof S->dir) < 0)
        return -1;
    rzt_keypair(S->srv_pub, S->srv_sec);
    rzt_keypair(S->pub, S->sec);
    rzt_keypair(S->rpub, S->rsec);
    static char srvkey[300], principals[300];
    snprintf(srvkey, sizeof srvkey, "%s/ratuszd.key", S->dir);
    snprintf(S->key, sizeof S->key, "%s/clerk.key", S->dir);
    snprintf(S->rkey, sizeof S->rkey, "%s/reader.key", S->dir);
    snprintf(principals, sizeof principals, "%s/principals.yaml", S->dir);
    if (rzt_write_key(srvkey, "ratuszd", S->srv_pub, S->srv_sec) < 0 ||
        rzt_write_key(S->key, "clerk", S->pub, S->sec) < 0 ||
        rzt_write_key(S->rkey, "reader", S->rpub, S->rsec) < 0)
        return -1;
    S->as = S->key;
    char text[1024];
    snprintf(text, sizeof text,
             "principals:\n"
             "  clerk:\n"
             "    key: \"%s\"\n"
             "    publish_sources: [\"/" TENANT "/*\"]\n"
             "    publish_tenants: [\"" TENANT "\"]\n"
             "    read: [\"\"]\n"
             "    personal_data: true\n"
             "    admin: [audit]\n"
             "  reader:\n"
             "    key: \"%s\"\n"
             "    read: [\"" TENANT ".tax.\"]\n",
             S->pub, S->rpub);
    FILE *f = fopen(principals, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    const char *extra[] = {"--server-key", srvkey, "--principals", principals,
                           NULL};
    rzt_curve(S->pub, S->sec, S->srv_pub);
    if (rzt_broker_start(&S->b, extra) < 0)
        return -1;

    rz_client_t *c = s_client();
    s_tax(c, "DWFN.3120.1.2024.0001", T0, RATUSZ__V1__PARTY__KIND__KIND_PERSON,
          PESEL1, "", NAME1, ADDR1, 434522);
    s_tax(c, "DWFN.3120.1.2024.0002", T0 + HOUR,
          RATUSZ__V1__PARTY__KIND__KIND_PERSON, PESEL2, "", NAME2, ADDR2,
          248500);
    s_tax(c, "DWFN.3120.1.2024.0003", T0 + 2 * HOUR,
          RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION, "", "1234563218",
          "Spółka Testowa sp. z o.o.", "ul. Portowa 1, 84-150 Hel", 1000);
    s_raw_tax(c, "note-1", T0 + 3 * HOUR);
    s_gis(c, "161/8", T0, 0);
    s_gis(c, "162", T0 + HOUR, 0);
    s_gis(c, "170/3", T0 + 2 * HOUR, 1);
    s_env(c, "pm10-1", T0, 1);
    s_env(c, "pm10-2", T0 + HOUR, 0);
    rz_client_destroy(&c);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    rzt_broker_cleanup(&S->b);
    rzt_rmtree(S->dir);
    rzt_curve(NULL, NULL, NULL);
    free(S);
    return 0;
}

/* ------------------------------------------------------------------------
 * Helpers
 */

static int s_cli(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run `ratusz ARGS` as the clerk; stdout and stderr into out. */
static int s_cli(char *out, size_t len, const char *fmt, ...)
{
    char args[2048], cmd[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s -e %s -k '%s' -K '%s' %s 2>&1",
             S->dir, RZ_RATUSZ_CLI, S->b.front, S->as, S->srv_pub, args);
    int rc = rzt_run(cmd, out, len);
    if (rc != 0)
        print_message("ratusz %s -> %d:\n%s\n", args, rc, out);
    return rc;
}

/* The whole of a file in the test's directory (malloc'd). */
static char *s_read(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", S->dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Nothing personal of the two taxpayers anywhere in text. */
static void s_assert_clean(const char *text)
{
    static const char *const personal[] = {PESEL1, PESEL2,    NAME1,
                                           NAME2,  ADDR1,     ADDR2,
                                           ACCT1,  "TESTOWY", "80010100017"};
    for (size_t i = 0; i < sizeof personal / sizeof personal[0]; i++) {
        if (strstr(text, personal[i])) {
            print_message("'%s' leaked into:\n%s\n", personal[i], text);
            fail();
        }
    }
}

/* Run a Python snippet on a file of the test's directory; its stdout into
 * out. */
static int s_python(const char *file, const char *code, char *out, size_t len)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && python3 -c '%s' '%s' 2>&1", S->dir,
             code, file);
    int rc = rzt_run(cmd, out, len);
    if (rc != 0)
        print_message("python on %s -> %d:\n%s\n", file, rc, out);
    return rc;
}

static void s_assert_has(const char *text, const char *want)
{
    if (!strstr(text, want)) {
        print_message("want '%s' in:\n%s\n", want, text);
        fail();
    }
}

/* ------------------------------------------------------------------------
 * Tests
 */

/* The control: the clerk may see personal data, so the export's absence of
 * it is the export's doing. */
static void test_clerk_query_shows_personal_data(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(
        s_cli(out, sizeof out, "query --topic %s.tax. --all", TENANT), 0);
    s_assert_has(out, PESEL1);
    s_assert_has(out, NAME2);
}

static void test_csv_parses_with_header_count_and_values(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.tax. --format csv --output "
                           "tax.csv --licence 'CC BY 4.0'",
                           TENANT),
                     0);
    s_assert_has(out, "3 events to tax.csv (1 skipped");
    char *csv = s_read("tax.csv");
    s_assert_clean(csv);
    /* RFC 4180: CRLF after every record */
    assert_non_null(strstr(csv, "\"due_date\"\r\n"));
    free(csv);
    const char *py =
        "import csv, sys\n"
        "rows = list(csv.DictReader(open(sys.argv[1], newline=\"\", "
        "encoding=\"utf-8\")))\n"
        "print(\"rows\", len(rows))\n"
        "print(\"cols\", \",\".join(rows[0].keys()))\n"
        "r = rows[0]\n"
        "print(\"first\", r[\"seq\"], r[\"time\"], r[\"total_zl\"], "
        "r[\"due_date\"], r[\"taxpayer.kind\"])\n"
        "print(\"pesel\", r[\"taxpayer.pesel\"][:1], "
        "len(r[\"taxpayer.pesel\"]))\n"
        "print(\"objects\", r[\"objects\"])\n"
        "o = rows[2]\n"
        "print(\"org\", o[\"taxpayer.nip\"], o[\"taxpayer.name\"], "
        "o[\"total_zl\"], o[\"account\"] == \"\")\n";
    assert_int_equal(s_python("tax.csv", py, out, sizeof out), 0);
    s_assert_has(out, "rows 3\n");
    s_assert_has(out, "cols seq,id,source,type,subject,tenant,time,document_id,"
                      "form,tax_year,taxpayer.kind,taxpayer.pesel,taxpayer.nip,"
                      "taxpayer.regon,taxpayer.name,taxpayer.address,objects,"
                      "total_zl,account,due_date\n");
    s_assert_has(out, "first 1 2024-03-15T08:00:00Z 4345.22 "
                      "2024-03-16T08:00:00Z KIND_PERSON\n");
    s_assert_has(out, "pesel ~ 27\n");
    s_assert_has(out, "\"base\":\"612.000\"");
    s_assert_has(out, "\"rate\":\"0.71\"");
    s_assert_has(out, "\"tax_zl\":\"4345.22\"");
    /* an organisation is not a person: its NIP and name stay */
    s_assert_has(out, "org 1234563218 Spółka Testowa sp. z o.o. 10.00 True\n");

    char *meta = s_read("tax.csv.meta.json");
    const char *pym =
        "import json, sys\n"
        "m = json.load(open(sys.argv[1], encoding=\"utf-8\"))\n"
        "print(m[\"count\"], m[\"format\"], m[\"topic\"], m[\"licence\"], "
        "m[\"sources\"], m[\"time_found\"][\"first\"], "
        "m[\"time_found\"][\"last\"], m[\"time_asked\"][\"since\"], "
        "m[\"redaction\"][\"applied\"], m[\"redaction\"]"
        "[\"events_with_pseudonyms\"], m[\"skipped\"], m[\"file\"], "
        "m[\"exporter\"])\n";
    free(meta);
    assert_int_equal(s_python("tax.csv.meta.json", pym, out, sizeof out), 0);
    s_assert_has(out, "3 csv 2211011.tax. CC BY 4.0 ['/2211011/tax/test'] "
                      "2024-03-15T08:00:00Z 2024-03-15T10:00:00Z None True 2 "
                      "{'raw_data': 1} tax.csv ratusz 0.1.0\n");
}

static void test_since_until_bound_the_count_exactly(void **state)
{
    (void)state;
    static char out[1 << 16];
    /* since inclusive, until exclusive: only the 09:00 decision */
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.tax. --format csv --output "
                           "window.csv --since 2024-03-15T09:00:00Z --until "
                           "2024-03-15T10:00:00Z",
                           TENANT),
                     0);
    const char *py = "import csv, sys\n"
                     "rows = list(csv.DictReader(open(sys.argv[1], "
                     "newline=\"\", encoding=\"utf-8\")))\n"
                     "print(len(rows), [r[\"id\"] for r in rows])\n";
    assert_int_equal(s_python("window.csv", py, out, sizeof out), 0);
    s_assert_has(out, "1 ['DWFN.3120.1.2024.0002']\n");
    char *meta = s_read("window.csv.meta.json");
    s_assert_has(meta, "\"since\": \"2024-03-15T09:00:00Z\"");
    s_assert_has(meta, "\"until\": \"2024-03-15T10:00:00Z\"");
    s_assert_has(meta, "\"count\": 1,");
    free(meta);
    /* an empty window is a header and nothing else */
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.tax. --format csv --output "
                           "empty.csv --since 2030-01-01T00:00:00Z",
                           TENANT),
                     0);
    char *csv = s_read("empty.csv");
    assert_int_equal(strncmp(csv, "\"seq\",\"id\"", 10), 0);
    assert_int_equal((int)(strchr(csv, '\n') - csv + 1), (int)strlen(csv));
    free(csv);
}

static void test_json_lines_each_parse_and_are_redacted(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(
        s_cli(out, sizeof out,
              "export --topic %s. --format json --output all.jsonl", TENANT),
        0);
    char *text = s_read("all.jsonl");
    s_assert_clean(text);
    free(text);
    const char *py = "import json, sys\n"
                     "n = 0\n"
                     "red = 0\n"
                     "for line in open(sys.argv[1], encoding=\"utf-8\"):\n"
                     "    e = json.loads(line)\n"
                     "    n += 1\n"
                     "    red += 1 if e.get(\"redaction\", \"\").startswith("
                     "\"hmac-sha256:\") else 0\n"
                     "print(\"lines\", n, \"redacted\", red)\n";
    assert_int_equal(s_python("all.jsonl", py, out, sizeof out), 0);
    /* 3 tax + 3 gis + 2 env; the raw note is skipped */
    s_assert_has(out, "lines 8 redacted 2\n");
}

static void test_mixed_csv_has_a_data_column(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic '' --format csv --output mixed.csv"),
                     0);
    char *text = s_read("mixed.csv");
    s_assert_clean(text);
    free(text);
    const char *py =
        "import csv, json, sys\n"
        "rows = list(csv.DictReader(open(sys.argv[1], newline=\"\", "
        "encoding=\"utf-8\")))\n"
        "print(len(rows), list(rows[0].keys())[-2:])\n"
        "env = [r for r in rows if r[\"dataschema\"].endswith("
        "\"AirQualityMeasurement\")]\n"
        "print(json.loads(env[0][\"data\"])[\"value\"], "
        "\"value\" in json.loads(env[1][\"data\"]))\n";
    assert_int_equal(s_python("mixed.csv", py, out, sizeof out), 0);
    s_assert_has(out, "8 ['dataschema', 'data']\n21.7 False\n");
}

static void test_env_csv_keeps_unmeasured_empty(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(
        s_cli(out, sizeof out,
              "export --topic %s.env --format csv --output env.csv", TENANT),
        0);
    const char *py =
        "import csv, sys\n"
        "rows = list(csv.DictReader(open(sys.argv[1], newline=\"\", "
        "encoding=\"utf-8\")))\n"
        "print([(r[\"value\"], r[\"period_start\"], r[\"station_id\"]) "
        "for r in rows])\n";
    assert_int_equal(s_python("env.csv", py, out, sizeof out), 0);
    s_assert_has(out, "[('21.7', '2024-03-15T08:00:00Z', '0'), "
                      "('', '2024-03-15T09:00:00Z', '0')]\n");
}

/* ogrinfo's summary of a file of the test's directory. */
static void s_ogrinfo(const char *name, char *out, size_t len)
{
    if (access(OGRINFO, X_OK) != 0) {
        print_message("no %s: install gdal-bin (deploy/install-deps.sh "
                      "--with-test-tools)\n",
                      OGRINFO);
        fail();
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, OGRINFO " -ro -al -so '%s/%s' 2>&1", S->dir,
             name);
    int rc = rzt_run(cmd, out, len);
    if (rc != 0)
        print_message("%s\n", out);
    assert_int_equal(rc, 0);
}

static void test_geojson_opens_in_gdal_with_count_type_and_crs(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s. --format geojson --crs "
                           "EPSG:2180 --output parcels.geojson",
                           TENANT),
                     0);
    s_ogrinfo("parcels.geojson", out, sizeof out);
    s_assert_has(out, "Geometry: Polygon\n");
    s_assert_has(out, "Feature Count: 2\n");
    s_assert_has(out, "ID[\"EPSG\",2180]");
    /* GeoJSON is x, y: the northing-first WKT was swapped */
    s_assert_has(out, "Extent: (473200.250000, 720100.500000) - "
                      "(473230.250000, 720130.500000)");
    s_assert_has(out, "properties.name: String");
    s_assert_has(out, "feature_id: String");
    char *meta = s_read("parcels.geojson.meta.json");
    s_assert_has(meta, "\"crs\": \"EPSG:2180\"");
    s_assert_has(meta, "\"not_gis\": 5");
    s_assert_has(meta, "\"other_crs\": 1");
    free(meta);

    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.gis. --format geojson --crs "
                           "4326 --output points.geojson",
                           TENANT),
                     0);
    s_ogrinfo("points.geojson", out, sizeof out);
    s_assert_has(out, "Geometry: Point\n");
    s_assert_has(out, "Feature Count: 1\n");
    s_assert_has(out, "ID[\"EPSG\",4326]");
    char *text = s_read("points.geojson");
    assert_null(strstr(text, "\"crs\""));
    free(text);
}

static void test_geojson_of_two_crs_fails_naming_the_event(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.gis. --format geojson --output "
                           "both.geojson",
                           TENANT),
                     1);
    s_assert_has(out, "(source '/2211011/gis/test', id '170/3') is in "
                      "EPSG:4326, the features before it in EPSG:2180");
    s_assert_has(out, "nothing written");
    char path[600];
    snprintf(path, sizeof path, "%s/both.geojson", S->dir);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/both.geojson.meta.json", S->dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_export_leaves_no_read_personal_audit(void **state)
{
    (void)state;
    static char out[1 << 16];
    rz_client_t *c = s_client();
    Ratusz__V1__AuditRequest rq = RATUSZ__V1__AUDIT_REQUEST__INIT;
    rq.limit = 10000;
    Ratusz__V1__AuditList *l = NULL;
    assert_int_equal(rz_audit(c, &rq, &l), 0);
    size_t before = l->n_records;
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.tax. --format json --output "
                           "audit.jsonl",
                           TENANT),
                     0);
    assert_int_equal(rz_audit(c, &rq, &l), 0);
    size_t reads = 0;
    for (size_t i = before; i < l->n_records; i++)
        reads += strcmp(l->records[i]->action, "read-personal") == 0;
    assert_int_equal(reads, 0);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    /* while a query by the same principal leaves one */
    assert_int_equal(s_cli(out, sizeof out, "query --topic %s.tax.", TENANT),
                     0);
    assert_int_equal(rz_audit(c, &rq, &l), 0);
    reads = 0;
    for (size_t i = before; i < l->n_records; i++)
        reads += strcmp(l->records[i]->action, "read-personal") == 0;
    assert_int_equal(reads, 1);
    ratusz__v1__audit_list__free_unpacked(l, NULL);
    rz_client_destroy(&c);
}

static void test_stdout_and_meta_option(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic %s.env --format json --meta "
                           "env.meta.json",
                           TENANT),
                     0);
    s_assert_has(out, "\"station_code\":\"PmHelWiejsk\"");
    s_assert_has(out, "2 events to standard output, metadata in "
                      "env.meta.json");
    char *meta = s_read("env.meta.json");
    s_assert_has(meta, "\"file\": null");
    s_assert_has(meta, "\"count\": 2,");
    s_assert_has(meta, "\"licence\": null");
    free(meta);
    assert_int_equal(
        s_cli(out, sizeof out, "export --topic %s.env --format json", TENANT),
        0);
    s_assert_has(out, "no metadata file (--meta FILE writes one)");
}

/* A key that may read only the tax domain, without clearance: the rest of
 * the range is withheld by the broker and counted in the metadata. */
static void test_narrow_grant_counts_what_the_broker_withheld(void **state)
{
    (void)state;
    static char out[1 << 16];
    S->as = S->rkey;
    int rc =
        s_cli(out, sizeof out,
              "export --topic %s. --format json --output narrow.jsonl", TENANT);
    S->as = S->key;
    assert_int_equal(rc, 0);
    s_assert_has(out, "3 events to narrow.jsonl (1 skipped: see the "
                      "metadata); 5 withheld by the broker");
    char *text = s_read("narrow.jsonl");
    s_assert_clean(text);
    free(text);
    char *meta = s_read("narrow.jsonl.meta.json");
    s_assert_has(meta, "\"withheld_by_broker\": 5,");
    s_assert_has(meta, "\"count\": 3,");
    free(meta);
}

static void test_bad_command_lines_and_paths(void **state)
{
    (void)state;
    static char out[4096];
    assert_int_equal(s_cli(out, sizeof out, "export --format csv"), 2);
    s_assert_has(out, "--topic is required");
    assert_int_equal(s_cli(out, sizeof out, "export --topic x --format xml"),
                     2);
    s_assert_has(out, "--format: 'xml' is not csv, json or geojson");
    assert_int_equal(
        s_cli(out, sizeof out, "export --topic x --format csv --crs 2180"), 2);
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic x --format geojson --crs EPSG:x"),
                     2);
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic x --format csv --since tomorrow"),
                     2);
    assert_int_equal(s_cli(out, sizeof out,
                           "export --topic x --format csv --output "
                           "no/such/dir/x.csv"),
                     1);
    s_assert_has(out, "no/such/dir/x.csv: No such file or directory");
    assert_int_equal(s_cli(out, sizeof out, "export --help"), 0);
    s_assert_has(out, "Usage: ratusz export --topic PREFIX");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clerk_query_shows_personal_data),
        cmocka_unit_test(test_csv_parses_with_header_count_and_values),
        cmocka_unit_test(test_since_until_bound_the_count_exactly),
        cmocka_unit_test(test_json_lines_each_parse_and_are_redacted),
        cmocka_unit_test(test_mixed_csv_has_a_data_column),
        cmocka_unit_test(test_env_csv_keeps_unmeasured_empty),
        cmocka_unit_test(test_geojson_opens_in_gdal_with_count_type_and_crs),
        cmocka_unit_test(test_geojson_of_two_crs_fails_naming_the_event),
        cmocka_unit_test(test_export_leaves_no_read_personal_audit),
        cmocka_unit_test(test_stdout_and_meta_option),
        cmocka_unit_test(test_narrow_grant_counts_what_the_broker_withheld),
        cmocka_unit_test(test_bad_command_lines_and_paths),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
