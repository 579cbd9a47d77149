/* test_environment.c - the GIOŚ air-quality module on every real file in
 * tests/fixtures/environment and on variants generated from them (BOM,
 * CRLF, truncated, a corrupted record, the v1 API's Polish keys). */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "env.h"
#include "harness.h"
#include "ratusz/adapter.h"
#include "ratusz/core/time.h"
#include "teryt.h"

extern const rz_adapter_module_t rz_module_environment;
static const rz_adapter_module_t *const M = &rz_module_environment;

#define FIX RZ_ENV_FIXTURES "/"
#define TERC FIX "TERC_2020-01-01.csv"

/* ==========================================================================
 * A collector behind rz_out_t
 */

typedef struct got {
    int is_event;
    uint8_t *packed; /* the event as protobuf, to compare and unpack */
    size_t packed_len;
    char *key;
    uint64_t line;
    char *reason;
    char *bytes;
    size_t len;
} got_t;

typedef struct coll {
    rz_out_t out;
    got_t *g;
    size_t n, events, quarantined;
} coll_t;

static got_t *s_add(coll_t *c, const rz_record_ref_t *ref)
{
    c->g = realloc(c->g, (c->n + 1) * sizeof *c->g);
    assert_non_null(c->g);
    got_t *g = &c->g[c->n++];
    memset(g, 0, sizeof *g);
    assert_non_null(ref->key);
    g->key = strdup(ref->key);
    g->line = ref->line;
    if (ref->bytes) {
        g->bytes = malloc(ref->len + 1);
        memcpy(g->bytes, ref->bytes, ref->len);
        g->bytes[ref->len] = '\0';
        g->len = ref->len;
    }
    return g;
}

static int s_on_event(rz_out_t *out, const rz_record_ref_t *ref,
                      const Ratusz__V1__Event *ev)
{
    coll_t *c = out->user;
    char why[256];
    /* every event the module makes must pass the bus's own check */
    if (rz_event_check(ev, why, sizeof why) != 0)
        fail_msg("invalid event %s: %s", ev->id ? ev->id : "?", why);
    /* and none may hold a Polish letter read in the wrong encoding */
    if (rzt_event_mojibake(ev))
        fail_msg("mojibake in event %s", ev->id ? ev->id : "?");
    got_t *g = s_add(c, ref);
    g->is_event = 1;
    g->packed_len = ratusz__v1__event__get_packed_size(ev);
    g->packed = malloc(g->packed_len + 1);
    ratusz__v1__event__pack(ev, g->packed);
    c->events++;
    return 0;
}

static int s_on_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                           const char *reason)
{
    coll_t *c = out->user;
    got_t *g = s_add(c, ref);
    g->reason = strdup(reason);
    c->quarantined++;
    return 0;
}

static void s_coll_init(coll_t *c)
{
    memset(c, 0, sizeof *c);
    c->out.event = s_on_event;
    c->out.quarantine = s_on_quarantine;
    c->out.user = c;
}

static void s_coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->g[i].packed);
        free(c->g[i].key);
        free(c->g[i].reason);
        free(c->g[i].bytes);
    }
    free(c->g);
    memset(c, 0, sizeof *c);
}

/* The i-th event (0-based, quarantines skipped), unpacked; free with
 * ratusz__v1__event__free_unpacked. */
static Ratusz__V1__Event *s_ev(const coll_t *c, size_t i)
{
    for (size_t k = 0; k < c->n; k++) {
        if (!c->g[k].is_event || i-- > 0)
            continue;
        Ratusz__V1__Event *ev =
            ratusz__v1__event__unpack(NULL, c->g[k].packed_len, c->g[k].packed);
        assert_non_null(ev);
        return ev;
    }
    fail_msg("no event %zu", i);
    return NULL;
}

static Ratusz__V1__Event *s_ev_subject(const coll_t *c, const char *subject)
{
    for (size_t i = 0; i < c->events; i++) {
        Ratusz__V1__Event *ev = s_ev(c, i);
        if (!strcmp(ev->subject, subject))
            return ev;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    fail_msg("no event about %s", subject);
    return NULL;
}

static const got_t *s_q(const coll_t *c, size_t i)
{
    for (size_t k = 0; k < c->n; k++)
        if (!c->g[k].is_event && i-- == 0)
            return &c->g[k];
    fail_msg("no quarantined record %zu", i);
    return NULL;
}

/* ==========================================================================
 * Files, the module
 */

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

typedef struct mod {
    void *conf;
    void *state;
    rz_teryt_t *teryt; /* lent with every parse, as the runtime does */
} mod_t;

/* The TERC register of the fixtures, loaded once. */
static rz_teryt_t *s_teryt(void)
{
    static rz_teryt_t *t;
    char err[512];
    if (!t) {
        assert_non_null(t = rz_teryt_new());
        if (rz_teryt_load(t, TERC, err, sizeof err) < 0)
            fail_msg("teryt: %s", err);
    }
    return t;
}

/* Open the module with options "name=value" (NULL-terminated); "teryt=1"
 * is not the module's: it lends the fixtures' register, as the adapter's
 * teryt: option does. */
static void s_open_v(mod_t *m, const char *const *opts)
{
    char err[512];
    m->conf = calloc(1, M->conf_size);
    m->teryt = NULL;
    assert_int_equal(rz_conf_init(M->options, m->conf), 0);
    for (; opts && *opts; opts++) {
        char name[64];
        const char *eq = strchr(*opts, '=');
        assert_non_null(eq);
        snprintf(name, sizeof name, "%.*s", (int)(eq - *opts), *opts);
        if (!strcmp(name, "teryt")) {
            m->teryt = s_teryt();
            continue;
        }
        if (rz_conf_set(M->options, m->conf, name, eq + 1, err, sizeof err))
            fail_msg("option %s: %s", *opts, err);
    }
    if (M->open(&m->state, m->conf, err, sizeof err))
        fail_msg("open: %s", err);
}

#define s_open(m, ...) s_open_v(m, (const char *const[]){__VA_ARGS__, NULL})

static void s_close(mod_t *m)
{
    M->close(m->state);
    rz_conf_close(M->options, m->conf);
    free(m->conf);
}

static int s_parse_buf(mod_t *m, coll_t *c, const char *name, const char *data,
                       size_t len, char *err, size_t err_len)
{
    rz_input_t in = {.origin = name,
                     .name = name,
                     .data = (const uint8_t *)data,
                     .len = len,
                     .content_id = "00112233445566778899aabbccddeeff"};
    err[0] = '\0';
    rz_teryt_lend(m->teryt, &c->out);
    return M->parse(m->state, &in, &c->out, err, err_len);
}

/* Parse a fixture; the call must succeed. */
static void s_parse_file(mod_t *m, coll_t *c, const char *name)
{
    char path[512], err[512];
    size_t len;
    snprintf(path, sizeof path, FIX "%s", name);
    char *b = s_read(path, &len);
    int rc = s_parse_buf(m, c, name, b, len, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", name, err);
    free(b);
}

static void s_parse_str(mod_t *m, coll_t *c, const char *name, const char *text)
{
    char err[512];
    int rc = s_parse_buf(m, c, name, text, strlen(text), err, sizeof err);
    if (rc)
        fail_msg("%s: %s", name, err);
}

/* Both collections hold the same events, byte for byte, in order. */
static void s_assert_same_events(const coll_t *a, const coll_t *b)
{
    assert_int_equal(a->events, b->events);
    size_t i = 0, j = 0;
    for (size_t k = 0; k < a->events; k++) {
        while (!a->g[i].is_event)
            i++;
        while (!b->g[j].is_event)
            j++;
        if (a->g[i].packed_len != b->g[j].packed_len ||
            memcmp(a->g[i].packed, b->g[j].packed, a->g[i].packed_len)) {
            Ratusz__V1__Event *x = s_ev(a, k), *y = s_ev(b, k);
            char *jx = rz_event_to_json(x), *jy = rz_event_to_json(y);
            fail_msg("event %zu differs:\n%s\n%s", k, jx, jy);
        }
        i++;
        j++;
    }
}

#define US(s) ((int64_t)(s)*1000000)

static int s_raw_has(const Ratusz__V1__Event *ev, const char *text)
{
    return ev->data_case == RATUSZ__V1__EVENT__DATA_RAW &&
           memmem(ev->raw->bytes.data, ev->raw->bytes.len, text,
                  strlen(text)) != NULL;
}

/* ==========================================================================
 * The clock and the register
 */

static int64_t s_utc(const rzc_tz_t *tz, const char *local, int *n)
{
    int64_t l, t[2] = {0, 0};
    assert_int_equal(rzc_parse_local(local, &l), 0);
    *n = rzc_tz_instants(tz, l, t);
    return t[0];
}

static void test_tz_warsaw_from_system_database(void **st)
{
    char err[256];
    int n;
    int64_t t[2];
    rzc_tz_t *tz =
        rzc_tz_new("/usr/share/zoneinfo/Europe/Warsaw", err, sizeof err);
    if (!tz) {
        print_message("skipping: %s\n", err);
        skip();
    }
    /* winter CET, summer CEST */
    assert_int_equal(s_utc(tz, "2021-01-23 17:00:00", &n), 1611417600);
    assert_int_equal(n, 1);
    assert_int_equal(s_utc(tz, "2021-07-01 12:00:00", &n), 1625133600);
    assert_int_equal(n, 1);
    /* spring gap: 02:30 on 2021-03-28 never happened */
    s_utc(tz, "2021-03-28 02:30:00", &n);
    assert_int_equal(n, 0);
    /* autumn: 02:30 on 2021-10-31 happened at 00:30Z and 01:30Z */
    int64_t l;
    assert_int_equal(rzc_parse_local("2021-10-31 02:30:00", &l), 0);
    assert_int_equal(rzc_tz_instants(tz, l, t), 2);
    assert_int_equal(t[0], 1635640200);
    assert_int_equal(t[1], 1635643800);
    /* 1990: Poland's summer time ended in September, which only the tz
     * database knows; the built-in EU rule says CEST */
    assert_int_equal(s_utc(tz, "1990-10-15 12:00:00", &n), 655988400);
    /* beyond the file's transitions the footer rule goes on */
    assert_int_equal(s_utc(tz, "2100-07-01 12:00:00", &n), 4118119200);
    assert_int_equal(rzc_tz_offset(tz, 4118119200), 7200);
    rzc_tz_destroy(&tz);
    rzc_tz_destroy(&tz); /* safe twice */

    tz = rzc_tz_new("builtin", err, sizeof err);
    assert_non_null(tz);
    assert_int_equal(s_utc(tz, "2021-01-23 17:00:00", &n), 1611417600);
    assert_int_equal(s_utc(tz, "1990-10-15 12:00:00", &n), 655988400 - 3600);
    rzc_tz_destroy(&tz);

    assert_null(rzc_tz_new("/nonexistent/Warsaw", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/Warsaw"));
    assert_null(rzc_tz_new(TERC, err, sizeof err));
    assert_non_null(strstr(err, "not a TZif file"));
    (void)st;
}

static void test_parse_local_rejects_what_is_not_a_date(void **st)
{
    int64_t l;
    assert_int_equal(rzc_parse_local("2021-02-29 00:00:00", &l), -1);
    assert_int_equal(rzc_parse_local("2021-01-23 24:00:00", &l), -1);
    assert_int_equal(rzc_parse_local("2021-01-23", &l), -1);
    assert_int_equal(rzc_parse_local("2024-02-29T01:02:03", &l), 0);
    assert_int_equal(l, 1709168523);
    (void)st;
}

static void test_lent_register_names_a_gmina_like_make_sample(void **st)
{
    rz_out_t out = {0};
    char code[8];
    /* nothing is found in a register that is not lent */
    assert_int_equal(rz__env_voivodeship(&out, "DOLNOŚLĄSKIE", code),
                     RZ_ENOTFOUND);
    rz_teryt_lend(s_teryt(), &out);
    assert_int_equal(rz__env_voivodeship(&out, "DOLNOŚLĄSKIE", code), 0);
    assert_string_equal(code, "02");
    assert_int_equal(rz__env_voivodeship(&out, "łódzkie", code), 0);
    assert_string_equal(code, "10");
    assert_int_equal(rz__env_voivodeship(&out, "Bawaria", code), RZ_ENOTFOUND);
    assert_int_equal(rz__env_gmina(&out, "02", "zgorzelecki", "Bogatynia",
                                   "Działoszyn", code),
                     0);
    assert_string_equal(code, "0225033");
    /* Bolesławiec is an urban (1) and a rural (2) gmina */
    assert_int_equal(rz__env_gmina(&out, "02", "bolesławiecki", "Bolesławiec",
                                   "Bolesławiec", code),
                     0);
    assert_string_equal(code, "0201011");
    assert_int_equal(rz__env_gmina(&out, "02", "bolesławiecki", "Bolesławiec",
                                   "Kruszyn", code),
                     0);
    assert_string_equal(code, "0201022");
    assert_int_equal(
        rz__env_gmina(&out, "02", "zgorzelecki", "Nigdzie", "x", code),
        RZ_ENOTFOUND);
    assert_int_equal(rz__env_casecmp("ŻÓŁĆ ĄĘŚŹŃ", "żółć ąęśźń"), 0);
    assert_int_not_equal(rz__env_casecmp("Łódź", "Lodz"), 0);
    (void)st;
}

/* ==========================================================================
 * Station list
 */

static void test_station_list_maps_every_station_to_its_gmina(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, "teryt=1");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_station_findAll.json");
    assert_int_equal(c.events, 207);
    assert_int_equal(c.quarantined, 0);

    /* every tenant is the gmina make-sample.py finds */
    size_t len;
    char *want = s_read(FIX "gios_station_findAll_tenants.txt", &len);
    size_t checked = 0, nulls = 0;
    for (size_t i = 0; i < c.events; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        char line[64];
        snprintf(line, sizeof line, "\n%s %s\n", ev->subject + 8, ev->tenant);
        if (!strstr(want, line))
            fail_msg("%s: tenant %s is not in the expected list", ev->subject,
                     ev->tenant);
        checked++;
        assert_string_equal(ev->type, "pl.gov.gmina.env.air.station.v1");
        assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_RAW);
        assert_string_equal(ev->raw->content_type, "application/json");
        assert_int_equal(ev->time, 0); /* the list has no time: now */
        if (memmem(ev->raw->bytes.data, ev->raw->bytes.len,
                   "\"addressStreet\":null", 20))
            nulls++;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    assert_int_equal(checked, 207);
    assert_int_equal(nulls, 8);
    free(want);

    /* station 117, record 2 of the list: subject, source, coordinates */
    Ratusz__V1__Event *ev = s_ev(&c, 1);
    assert_string_equal(ev->subject, "station:117");
    assert_string_equal(ev->tenant, "0264011");
    assert_string_equal(ev->source, "/0264011/env/gios");
    assert_int_equal(strncmp(ev->id, "gios-station-117-", 17), 0);
    json_t *d = json_loadb((const char *)ev->raw->bytes.data,
                           ev->raw->bytes.len, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "gegrLat")),
                        "51.129378");
    assert_string_equal(json_string_value(json_object_get(d, "gegrLon")),
                        "17.029250");
    assert_string_equal(json_string_value(json_object_get(d, "stationName")),
                        "Wrocław - Korzeniowskiego");
    json_decref(d);
    ratusz__v1__event__free_unpacked(ev, NULL);
    assert_string_equal(c.g[1].key, "[1]");
    assert_int_equal(c.g[1].line, 1);

    /* diacritics intact: Łódź-Widzew in gmina Łódź */
    ev = s_ev_subject(&c, "station:295");
    assert_string_equal(ev->tenant, "1061011");
    assert_true(s_raw_has(ev, "\"stationName\":\"Łódź-Widzew\""));
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void
test_station_list_without_register_or_tenant_is_quarantined(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, "zoneinfo=builtin");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_station_findAll.json");
    assert_int_equal(c.events, 0);
    assert_int_equal(c.quarantined, 207);
    assert_string_equal(s_q(&c, 0)->reason,
                        "tenant: station 114 cannot be placed: no TERC "
                        "register (teryt) and no 'tenant' option");
    /* the record's own bytes are kept */
    assert_int_equal(strncmp(s_q(&c, 0)->bytes, "{\"id\":114,", 10), 0);
    assert_int_equal(s_q(&c, 0)->bytes[s_q(&c, 0)->len - 1], '}');
    s_coll_free(&c);
    s_close(&m);

    /* with a tenant option every station goes there */
    s_open(&m, "zoneinfo=builtin", "tenant=02");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_station_findAll.json");
    assert_int_equal(c.events, 207);
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->tenant, "02");
    assert_string_equal(ev->source, "/02/env/gios");
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* ==========================================================================
 * Sensors
 */

static void test_sensors_of_station_117(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, "teryt=1", "preload=" FIX "gios_station_findAll.json");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_station_sensors_117.json");
    assert_int_equal(c.events, 7);
    assert_int_equal(c.quarantined, 0);
    Ratusz__V1__Event *ev = s_ev(&c, 5);
    assert_string_equal(ev->type, "pl.gov.gmina.env.air.sensor.v1");
    assert_string_equal(ev->subject, "station:117");
    assert_string_equal(ev->tenant, "0264011");
    assert_int_equal(strncmp(ev->id, "gios-sensor-670-", 16), 0);
    assert_true(s_raw_has(ev, "\"paramName\":\"pył zawieszony PM2.5\""));
    assert_true(s_raw_has(ev, "\"idParam\":69"));
    ratusz__v1__event__free_unpacked(ev, NULL);

    /* the empty list: nothing to report, and no error */
    size_t before = c.n;
    s_parse_file(&m, &c, "gios_station_sensors_734_empty.json");
    assert_int_equal(c.n, before);
    s_coll_free(&c);
    s_close(&m);

    /* a station no list named and no tenant option */
    s_open(&m, "zoneinfo=builtin");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_station_sensors_117.json");
    assert_int_equal(c.quarantined, 7);
    assert_non_null(strstr(s_q(&c, 0)->reason, "tenant: station 117"));
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_sensors_polish_keys_give_the_same_events(void **st)
{
    mod_t m;
    coll_t en, pl;
    s_open(&m, "teryt=1", "preload=" FIX "gios_station_findAll.json");
    s_coll_init(&en);
    s_coll_init(&pl);
    s_parse_file(&m, &en, "gios_station_sensors_117.json");
    s_parse_file(&m, &pl, "gios_v1_station_sensors_117_polish_keys.json");
    assert_int_equal(pl.events, 7);
    assert_int_equal(pl.quarantined, 0);
    s_assert_same_events(&en, &pl);
    /* pretty-printed: each record's first line */
    assert_int_equal(pl.g[0].line, 2);
    assert_int_equal(pl.g[1].line, 10);
    assert_int_equal(pl.g[6].line, 50);
    assert_string_equal(pl.g[6].key, "[6]");
    s_coll_free(&en);
    s_coll_free(&pl);
    s_close(&m);
    (void)st;
}

/* ==========================================================================
 * Measurements
 */

#define PRELOAD_117                                                            \
    "teryt=1", "preload=" FIX "gios_station_findAll.json",                     \
        "preload=" FIX "gios_station_sensors_117.json"

static void test_getdata_pm10_of_sensor_14395(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_14395_PM10.json");
    assert_int_equal(c.events, 65);
    assert_int_equal(c.quarantined, 0);

    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->id, "gios-14395-2021012317");
    assert_string_equal(ev->type, "pl.gov.gmina.env.air.measurement.v1");
    assert_string_equal(ev->subject, "station:117");
    assert_string_equal(ev->tenant, "0264011");
    assert_string_equal(ev->source, "/0264011/env/gios");
    assert_int_equal(ev->data_case, RATUSZ__V1__EVENT__DATA_AIR_QUALITY);
    Ratusz__V1__AirQualityMeasurement *a = ev->air_quality;
    assert_string_equal(a->station_code, "117");
    assert_int_equal(a->station_id, 117);
    assert_int_equal(a->sensor_id, 14395);
    assert_string_equal(a->parameter, "PM10");
    assert_string_equal(a->parameter_name, "pył zawieszony PM10");
    assert_int_equal(a->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
    assert_true(a->value == 6.01361);
    assert_string_equal(a->unit, "ug/m3");
    /* 17:00 in Warsaw in January is 16:00 UTC */
    assert_string_equal(a->source_time, "2021-01-23 17:00:00");
    assert_string_equal(a->time_zone, "Europe/Warsaw");
    assert_int_equal(a->period_start, US(1611417600));
    assert_int_equal(ev->time, US(1611417600));
    assert_int_equal(a->period_seconds, 3600);
    assert_true(a->latitude == 51.129378);
    assert_true(a->longitude == 17.02925);
    ratusz__v1__event__free_unpacked(ev, NULL);
    assert_string_equal(c.g[0].key, "values[0]");
    assert_string_equal(c.g[0].bytes,
                        "{\"date\":\"2021-01-23 17:00:00\",\"value\":6.01361}");

    ev = s_ev(&c, 64);
    assert_string_equal(ev->id, "gios-14395-2021012101");
    assert_int_equal(ev->air_quality->period_start, US(1611187200));
    assert_true(ev->air_quality->value == 19.7151);
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_preload_takes_comma_separated_lists_in_any_order(void **st)
{
    mod_t m;
    coll_t c;
    /* the sensors before the stations they belong to */
    s_open(&m, "teryt=1",
           "preload=" FIX "gios_station_sensors_117.json," FIX
           "gios_station_findAll.json");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_14395_PM10.json");
    assert_int_equal(c.events, 65);
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->tenant, "0264011");
    assert_true(ev->air_quality->longitude == 17.02925);
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);

    /* a sensor list alone: the station is known, its gmina is not */
    s_open(&m, "zoneinfo=builtin",
           "preload=" FIX "gios_station_sensors_117.json");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_14395_PM10.json");
    assert_int_equal(c.quarantined, 65);
    assert_string_equal(s_q(&c, 0)->reason,
                        "tenant: station 117 is in no station list read so "
                        "far and there is no 'tenant' option");
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_preloaded_stations_are_placed_by_the_lent_register(void **st)
{
    mod_t m;
    coll_t c;
    /* read at open, before the runtime lends any register */
    s_open(&m, "zoneinfo=builtin",
           "preload=" FIX "gios_station_sensors_117.json," FIX
           "gios_station_findAll.json");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_14395_PM10.json");
    assert_int_equal(c.events, 0);
    assert_int_equal(c.quarantined, 65);
    assert_string_equal(s_q(&c, 0)->reason,
                        "tenant: station 117 cannot be placed: no TERC "
                        "register (teryt) and no 'tenant' option");
    s_coll_free(&c);

    /* lent: station 117 is in gmina Wrocław, for values and the index */
    m.teryt = s_teryt();
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_14395_PM10.json");
    s_parse_file(&m, &c, "gios_aqindex_getIndex_117.json");
    assert_int_equal(c.quarantined, 0);
    assert_true(c.events > 65);
    for (size_t i = 0; i < c.events; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        assert_string_equal(ev->tenant, "0264011");
        assert_string_equal(ev->source, "/0264011/env/gios");
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_nulls_are_no_measurement(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_658_C6H6_nulls.json");
    assert_int_equal(c.events, 65);
    assert_int_equal(c.quarantined, 0);
    size_t nulls = 0;
    for (size_t i = 0; i < c.events; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        if (ev->air_quality->measured_case !=
            RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE) {
            nulls++;
            assert_true(ev->air_quality->value == 0);
            assert_non_null(strstr(ev->id, "-null"));
        }
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    assert_int_equal(nulls, 10);
    /* the oldest one is null, and stays without a value */
    Ratusz__V1__Event *ev = s_ev(&c, 64);
    assert_string_equal(ev->id, "gios-658-2021012101-null");
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED__NOT_SET);
    assert_string_equal(ev->air_quality->parameter, "C6H6");
    assert_string_equal(ev->air_quality->parameter_name, "benzen");
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_of_a_sensor_no_list_names(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_17800_PM10_many_nulls.json");
    assert_int_equal(c.events, 0);
    assert_int_equal(c.quarantined, 65);
    assert_string_equal(s_q(&c, 0)->reason,
                        "station: sensor 17800 is in no sensor list read so "
                        "far and there is no 'station_id' option");
    s_coll_free(&c);
    s_close(&m);

    /* an operator who knows the station says so */
    s_open(&m, PRELOAD_117, "station_id=114");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_17800_PM10_many_nulls.json");
    assert_int_equal(c.events, 65);
    assert_int_equal(c.quarantined, 0);
    size_t nulls = 0;
    for (size_t i = 0; i < c.events; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        nulls += ev->air_quality->measured_case !=
                 RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
        assert_string_equal(ev->subject, "station:114");
        assert_string_equal(ev->air_quality->parameter_name,
                            "pył zawieszony PM10");
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    assert_int_equal(nulls, 41);
    /* the newest values are the null ones (the feed lags) */
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->id, "gios-17800-2021012317-null");
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);

    /* no sensor id anywhere */
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_str(&m, &c, "data.json",
                "{\"key\":\"PM10\",\"values\":[{\"date\""
                ":\"2021-01-23 17:00:00\",\"value\":1}]}");
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->reason,
                        "sensor: unknown (no 'sensor_id' option and no "
                        "sensor id in the input name 'data.json')");
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_empty_and_key_mismatch(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_data_getData_26006_CO_empty.json");
    assert_int_equal(c.n, 0);
    /* a file named after sensor 14395 (PM10) that holds NO2 */
    s_parse_str(&m, &c, "getData_14395.json",
                "{\"key\":\"NO2\",\"values\":[{\"date\":\"2021-01-23 "
                "17:00:00\",\"value\":1}]}");
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->reason,
                        "key: 'NO2' but sensor 14395 measures 'PM10' per its "
                        "sensor list");
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_epoch_millis_and_strings(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    s_parse_str(&m, &c, "getData_14395.json",
                "{\"key\":\"PM10\",\"values\":["
                "{\"date\":1611417600000,\"value\":\"7,5\"},"
                "{\"date\":\"2021-01-23 16:00:00\",\"value\":\"8.25\"},"
                "{\"date\":\"2021-01-23 15:00:00\",\"value\":\"abc\"},"
                "{\"date\":\"23.01.2021 14:00\",\"value\":1},"
                "{\"date\":\"2021-01-23 13:00:00\"}]}");
    assert_int_equal(c.events, 2);
    assert_int_equal(c.quarantined, 3);
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    /* epoch milliseconds are UTC; the id uses Warsaw's wall clock */
    assert_string_equal(ev->id, "gios-14395-2021012317");
    assert_int_equal(ev->air_quality->period_start, US(1611417600));
    assert_string_equal(ev->air_quality->source_time, "1611417600000");
    assert_true(ev->air_quality->value == 7.5); /* decimal comma */
    ratusz__v1__event__free_unpacked(ev, NULL);
    ev = s_ev(&c, 1);
    assert_true(ev->air_quality->value == 8.25);
    ratusz__v1__event__free_unpacked(ev, NULL);
    assert_string_equal(s_q(&c, 0)->reason, "value: 'abc' is not a number");
    assert_string_equal(s_q(&c, 0)->key, "values[2]");
    assert_string_equal(s_q(&c, 1)->reason,
                        "date: '23.01.2021 14:00' is not a date 'YYYY-MM-DD "
                        "HH:MM:SS' nor epoch milliseconds");
    assert_string_equal(s_q(&c, 2)->reason,
                        "value: missing (null is no measurement, an absent "
                        "key is a broken record)");
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_across_dst_changes(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    /* autumn, newest first as the feed runs: 02:00 shows twice */
    s_parse_str(&m, &c, "getData_14395.json",
                "{\"key\":\"PM10\",\"values\":["
                "{\"date\":\"2021-10-31 04:00:00\",\"value\":1},"
                "{\"date\":\"2021-10-31 03:00:00\",\"value\":2},"
                "{\"date\":\"2021-10-31 02:00:00\",\"value\":3},"
                "{\"date\":\"2021-10-31 02:00:00\",\"value\":4},"
                "{\"date\":\"2021-10-31 01:00:00\",\"value\":5}]}");
    assert_int_equal(c.events, 5);
    static const struct {
        const char *id;
        int64_t t;
    } want[] = {{"gios-14395-2021103104", 1635649200},
                {"gios-14395-2021103103", 1635645600},
                {"gios-14395-2021103102+0100", 1635642000},
                {"gios-14395-2021103102+0200", 1635638400},
                {"gios-14395-2021103101", 1635634800}};
    for (size_t i = 0; i < 5; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        assert_string_equal(ev->id, want[i].id);
        assert_int_equal(ev->air_quality->period_start, US(want[i].t));
        assert_string_equal(ev->air_quality->time_zone, "Europe/Warsaw");
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    s_coll_free(&c);

    /* oldest first, the same hours come out the same */
    s_coll_init(&c);
    s_parse_str(&m, &c, "getData_14395.json",
                "{\"key\":\"PM10\",\"values\":["
                "{\"date\":\"2021-10-31 02:00:00\",\"value\":3},"
                "{\"date\":\"2021-10-31 02:00:00\",\"value\":4}]}");
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_int_equal(ev->air_quality->period_start, US(1635638400));
    ratusz__v1__event__free_unpacked(ev, NULL);
    ev = s_ev(&c, 1);
    assert_int_equal(ev->air_quality->period_start, US(1635642000));
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);

    /* spring: 02:00 did not happen */
    s_coll_init(&c);
    s_parse_str(&m, &c, "getData_14395.json",
                "{\"key\":\"PM10\",\"values\":["
                "{\"date\":\"2021-03-28 03:00:00\",\"value\":1},"
                "{\"date\":\"2021-03-28 02:00:00\",\"value\":2},"
                "{\"date\":\"2021-03-28 01:00:00\",\"value\":3}]}");
    assert_int_equal(c.events, 2);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->reason,
                        "date: '2021-03-28 02:00:00' does not exist in "
                        "Europe/Warsaw (the clock skipped that hour)");
    ev = s_ev(&c, 0);
    assert_int_equal(ev->air_quality->period_start, US(1616893200));
    ratusz__v1__event__free_unpacked(ev, NULL);
    ev = s_ev(&c, 1);
    assert_int_equal(ev->air_quality->period_start, US(1616889600));
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_getdata_posted_over_http(void **st)
{
    mod_t m;
    coll_t c;
    char path[512], err[256];
    size_t len;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    snprintf(path, sizeof path, FIX "gios_data_getData_14395_PM10.json");
    char *b = s_read(path, &len);
    /* the sensor id comes from the URL when the name has none */
    rz_input_t in = {.origin = "http POST /gios/getData/14395",
                     .name = "body",
                     .data = (const uint8_t *)b,
                     .len = len,
                     .content_type = "application/json; charset=utf-8",
                     .content_id = "ffeeddccbbaa99887766554433221100"};
    rz_teryt_lend(m.teryt, &c.out);
    assert_int_equal(M->parse(m.state, &in, &c.out, err, sizeof err), 0);
    assert_int_equal(c.events, 65);
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->id, "gios-14395-2021012317");
    ratusz__v1__event__free_unpacked(ev, NULL);
    free(b);

    /* a body that says it is CSV is refused as a whole */
    in.content_type = "text/csv";
    assert_int_equal(M->parse(m.state, &in, &c.out, err, sizeof err),
                     RZ_EINVAL);
    assert_string_equal(err, "content type 'text/csv' is not JSON");

    /* the v1 archive shape (ld+json), whose values also name the station */
    const char *arch = "{\"Lista archiwalnych wyników pomiarów\":[{\"Nazwa "
                       "stacji\":\"Wrocław - Korzeniowskiego\",\"Kod "
                       "stanowiska\":\"DsWrocWybCon-PM10-1g\",\"Data\":"
                       "\"2021-01-23 17:00:00\",\"Wartość\":6.01361}]}";
    in.content_type = "application/ld+json; charset=UTF-8";
    in.data = (const uint8_t *)arch;
    in.len = strlen(arch);
    size_t before = c.events;
    assert_int_equal(M->parse(m.state, &in, &c.out, err, sizeof err), 0);
    assert_int_equal(c.events, before + 1);
    assert_int_equal(c.quarantined, 0);
    Ratusz__V1__Event *a = s_ev(&c, 0), *z = s_ev(&c, before);
    size_t la = ratusz__v1__event__get_packed_size(a);
    size_t lz = ratusz__v1__event__get_packed_size(z);
    uint8_t *pa = malloc(la), *pz = malloc(lz);
    ratusz__v1__event__pack(a, pa);
    ratusz__v1__event__pack(z, pz);
    assert_int_equal(la, lz);
    assert_memory_equal(pa, pz, la);
    free(pa);
    free(pz);
    ratusz__v1__event__free_unpacked(a, NULL);
    ratusz__v1__event__free_unpacked(z, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* ==========================================================================
 * Index
 */

static void test_index_of_station_117(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, "teryt=1", "preload=" FIX "gios_station_findAll.json");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_aqindex_getIndex_117.json");
    assert_int_equal(c.events, 8);
    assert_int_equal(c.quarantined, 0);
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->id, "gios-index-117-aqi-20210123T162016Z");
    assert_string_equal(ev->type, "pl.gov.gmina.env.air.index.v1");
    assert_string_equal(ev->subject, "station:117");
    assert_string_equal(ev->tenant, "0264011");
    assert_string_equal(ev->air_quality->parameter, "AQI");
    assert_string_equal(ev->air_quality->index_level, "Bardzo dobry");
    assert_true(ev->air_quality->value == 0);
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE);
    assert_int_equal(ev->time, US(1611418816));
    assert_int_equal(ev->air_quality->period_start, US(1611417600));
    assert_string_equal(ev->air_quality->source_time, "2021-01-23 17:00:00");
    assert_true(ev->air_quality->latitude == 51.129378);
    ratusz__v1__event__free_unpacked(ev, NULL);
    assert_string_equal(c.g[0].key, "index.st");
    /* no2CalcDate is epoch milliseconds: the same instant as the others */
    ev = s_ev(&c, 2);
    assert_string_equal(ev->id, "gios-index-117-no2-20210123T162016Z");
    assert_int_equal(ev->time, US(1611418816));
    ratusz__v1__event__free_unpacked(ev, NULL);
    ev = s_ev(&c, 5);
    assert_string_equal(ev->air_quality->parameter, "PM2.5");
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_index_brak_indeksu_is_no_value(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, "zoneinfo=builtin", "tenant=0264011");
    s_coll_init(&c);
    s_parse_file(&m, &c, "gios_aqindex_getIndex_164_brak_indeksu.json");
    assert_int_equal(c.events, 8);
    assert_int_equal(c.quarantined, 0);
    size_t without = 0;
    for (size_t i = 0; i < c.events; i++) {
        Ratusz__V1__Event *ev = s_ev(&c, i);
        without += ev->air_quality->measured_case !=
                   RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED_VALUE;
        ratusz__v1__event__free_unpacked(ev, NULL);
    }
    assert_int_equal(without, 5); /* st (Brak), so2, co, pm10, pm25 */
    Ratusz__V1__Event *ev = s_ev(&c, 0);
    assert_string_equal(ev->air_quality->index_level, "Brak indeksu");
    assert_int_equal(ev->air_quality->measured_case,
                     RATUSZ__V1__AIR_QUALITY_MEASUREMENT__MEASURED__NOT_SET);
    assert_int_equal(ev->air_quality->latitude == 0, 1); /* unknown */
    ratusz__v1__event__free_unpacked(ev, NULL);
    /* pm25: every field null; it takes the overall times */
    ev = s_ev(&c, 5);
    assert_string_equal(ev->air_quality->parameter, "PM2.5");
    assert_string_equal(ev->air_quality->index_level, "");
    assert_string_equal(ev->air_quality->source_time, "2021-01-23 17:00:00");
    assert_int_equal(ev->time, US(1611418520));
    ratusz__v1__event__free_unpacked(ev, NULL);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* ==========================================================================
 * The v1 API's Polish keys, generated from the pjp files
 */

static char *s_dump(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static json_t *s_load_fix(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, FIX "%s", name);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    return j;
}

static char *s_v1_stations(void)
{
    json_t *all = s_load_fix("gios_station_findAll.json"), *list = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s)
    {
        json_t *city = json_object_get(s, "city");
        json_t *com = json_object_get(city, "commune");
        json_t *o = json_object();
        json_object_set(o, "Identyfikator stacji", json_object_get(s, "id"));
        json_object_set(o, "Nazwa stacji", json_object_get(s, "stationName"));
        json_object_set(o, "WGS84 φ N", json_object_get(s, "gegrLat"));
        json_object_set(o, "WGS84 λ E", json_object_get(s, "gegrLon"));
        json_object_set(o, "Identyfikator miasta", json_object_get(city, "id"));
        json_object_set(o, "Nazwa miasta", json_object_get(city, "name"));
        json_object_set(o, "Gmina", json_object_get(com, "communeName"));
        json_object_set(o, "Powiat", json_object_get(com, "districtName"));
        json_object_set(o, "Województwo", json_object_get(com, "provinceName"));
        json_object_set(o, "Ulica", json_object_get(s, "addressStreet"));
        json_array_append_new(list, o);
    }
    json_decref(all);
    return s_dump(json_pack("{s:o, s:i}", "Lista stacji pomiarowych", list,
                            "totalPages", 1));
}

static char *s_v1_data(const char *name, const char *code)
{
    json_t *d = s_load_fix(name), *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, "values"), i, v)
    {
        json_array_append_new(
            list, json_pack("{s:s, s:O, s:O}", "Kod stanowiska", code, "Data",
                            json_object_get(v, "date"), "Wartość",
                            json_object_get(v, "value")));
    }
    json_decref(d);
    return s_dump(
        json_pack("{s:{}, s:o}", "@context", "Lista danych pomiarowych", list));
}

/* Epoch milliseconds as the Warsaw wall-clock string the v1 API writes. */
static json_t *s_local(const rzc_tz_t *tz, json_int_t ms)
{
    time_t l = (time_t)(ms / 1000) + rzc_tz_offset(tz, ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&l, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return json_string(buf);
}

static char *s_v1_index(const char *name)
{
    static const char *const slots[][2] = {
        {"so2", "SO2"},    {"no2", "NO2"}, {"co", "CO"},    {"pm10", "PM10"},
        {"pm25", "PM2.5"}, {"o3", "O3"},   {"c6h6", "C6H6"}};
    json_t *d = s_load_fix(name), *o = json_object();
    char k[160];
    /* the v1 API writes every date as a local string */
    rzc_tz_t *tz = rzc_tz_new("builtin", k, sizeof k);
#define DATE(j)                                                                \
    (json_is_integer(j) ? s_local(tz, json_integer_value(j)) : json_incref(j))
    json_object_set(o, "Identyfikator stacji pomiarowej",
                    json_object_get(d, "id"));
    json_object_set_new(o, "Data wykonania obliczeń indeksu",
                        DATE(json_object_get(d, "stCalcDate")));
    json_t *lvl = json_object_get(d, "stIndexLevel");
    json_object_set(o, "Wartość indeksu",
                    json_is_null(lvl) ? lvl : json_object_get(lvl, "id"));
    json_object_set(o, "Nazwa kategorii indeksu",
                    json_is_null(lvl) ? lvl
                                      : json_object_get(lvl, "indexLevelName"));
    json_object_set_new(o,
                        "Data danych źródłowych, z których policzono "
                        "wartość indeksu dla wskaźnika st",
                        DATE(json_object_get(d, "stSourceDataDate")));
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        char pk[64];
        snprintf(pk, sizeof pk, "%sCalcDate", slots[i][0]);
        snprintf(k, sizeof k,
                 "Data wykonania obliczeń indeksu dla "
                 "wskaźnika %s",
                 slots[i][1]);
        json_object_set_new(o, k, DATE(json_object_get(d, pk)));
        snprintf(pk, sizeof pk, "%sIndexLevel", slots[i][0]);
        lvl = json_object_get(d, pk);
        snprintf(k, sizeof k, "Wartość indeksu dla wskaźnika %s", slots[i][1]);
        json_object_set(o, k,
                        json_is_null(lvl) ? lvl : json_object_get(lvl, "id"));
        snprintf(k, sizeof k, "Nazwa kategorii indeksu dla wskażnika %s",
                 slots[i][1]);
        json_object_set(
            o, k,
            json_is_null(lvl) ? lvl : json_object_get(lvl, "indexLevelName"));
        snprintf(pk, sizeof pk, "%sSourceDataDate", slots[i][0]);
        snprintf(k, sizeof k,
                 "Data danych źródłowych, z których policzono "
                 "wartość indeksu dla wskaźnika %s",
                 slots[i][1]);
        json_object_set_new(o, k, DATE(json_object_get(d, pk)));
    }
#undef DATE
    rzc_tz_destroy(&tz);
    json_decref(d);
    return s_dump(json_pack("{s:o, s:i}", "AqIndex", o, "totalPages", 1));
}

static void test_polish_keys_give_the_same_events(void **st)
{
    mod_t m;
    coll_t en, pl;
    s_open(&m, PRELOAD_117);

    /* station list */
    s_coll_init(&en);
    s_coll_init(&pl);
    char *v1 = s_v1_stations();
    s_parse_file(&m, &en, "gios_station_findAll.json");
    s_parse_str(&m, &pl, "v1_station_findAll.json", v1);
    assert_int_equal(pl.events, 207);
    assert_int_equal(pl.quarantined, 0);
    s_assert_same_events(&en, &pl);
    free(v1);
    s_coll_free(&en);
    s_coll_free(&pl);

    /* measurements, with the sensor's v1 code */
    s_coll_init(&en);
    s_coll_init(&pl);
    v1 = s_v1_data("gios_data_getData_658_C6H6_nulls.json",
                   "DsWrocWybCon-C6H6-1g");
    s_parse_file(&m, &en, "gios_data_getData_658_C6H6_nulls.json");
    s_parse_str(&m, &pl, "v1_getData_658.json", v1);
    assert_int_equal(pl.events, 65);
    assert_int_equal(pl.quarantined, 0);
    s_assert_same_events(&en, &pl);
    free(v1);
    s_coll_free(&en);
    s_coll_free(&pl);

    /* both indexes, epoch milliseconds become strings in v1 */
    static const char *const idx[] = {"gios_aqindex_getIndex_117.json",
                                      "gios_aqindex_getIndex_164_brak_"
                                      "indeksu.json"};
    for (size_t i = 0; i < 2; i++) {
        s_coll_init(&en);
        s_coll_init(&pl);
        v1 = s_v1_index(idx[i]);
        s_parse_file(&m, &en, idx[i]);
        s_parse_str(&m, &pl, "v1_getIndex.json", v1);
        assert_int_equal(pl.events, 8);
        assert_int_equal(pl.quarantined, 0);
        s_assert_same_events(&en, &pl);
        assert_string_equal(pl.g[1].key, "AqIndex.so2");
        free(v1);
        s_coll_free(&en);
        s_coll_free(&pl);
    }
    s_close(&m);
    (void)st;
}

/* ==========================================================================
 * Variants of the real files
 */

/* data with bytes [at, at + cut) replaced by repl */
static char *s_splice(const char *data, size_t len, size_t at, size_t cut,
                      const char *repl, size_t *out_len)
{
    size_t rl = strlen(repl);
    char *b = malloc(len - cut + rl + 1);
    memcpy(b, data, at);
    memcpy(b + at, repl, rl);
    memcpy(b + at + rl, data + at + cut, len - at - cut);
    *out_len = len - cut + rl;
    b[*out_len] = '\0';
    return b;
}

static size_t s_find(const char *data, const char *what)
{
    const char *p = strstr(data, what);
    if (!p)
        fail_msg("'%s' not found", what);
    return (size_t)(p - data);
}

static void s_parse_mem(mod_t *m, coll_t *c, const char *name, const char *b,
                        size_t len)
{
    char err[512];
    if (s_parse_buf(m, c, name, b, len, err, sizeof err))
        fail_msg("%s: %s", name, err);
}

/* Parse a file cut short at byte len: the complete records go out and
 * the input as a whole fails, naming where it ends. */
static void s_parse_cut(mod_t *m, coll_t *c, const char *name, const char *b,
                        size_t len, const char *inside)
{
    char err[512], want[200];
    int rc = s_parse_buf(m, c, name, b, len, err, sizeof err);
    assert_int_equal(rc, RZ_EINVAL);
    snprintf(want, sizeof want,
             "input ends at byte %zu inside %s: the file is cut short", len,
             inside);
    assert_string_equal(err, want);
}

static void test_variant_bom_and_crlf_change_nothing(void **st)
{
    mod_t m;
    coll_t plain, v;
    size_t len, vlen;
    s_open(&m, PRELOAD_117);

    char *b = s_read(FIX "gios_station_findAll.json", &len);
    char *bom = s_splice(b, len, 0, 0, "\xef\xbb\xbf", &vlen);
    s_coll_init(&plain);
    s_coll_init(&v);
    s_parse_mem(&m, &plain, "findAll.json", b, len);
    s_parse_mem(&m, &v, "findAll.json", bom, vlen);
    assert_int_equal(v.events, 207);
    s_assert_same_events(&plain, &v);
    assert_int_equal(strncmp(v.g[0].bytes, "{\"id\":114", 9), 0);
    free(b);
    free(bom);
    s_coll_free(&plain);
    s_coll_free(&v);

    /* the pretty-printed v1 file with CRLF and a BOM */
    b = s_read(FIX "gios_v1_station_sensors_117_polish_keys.json", &len);
    char *crlf = malloc(2 * len + 4);
    size_t n = 0;
    memcpy(crlf, "\xef\xbb\xbf", 3);
    n = 3;
    for (size_t i = 0; i < len; i++) {
        if (b[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = b[i];
    }
    s_coll_init(&plain);
    s_coll_init(&v);
    s_parse_mem(&m, &plain, "sensors.json", b, len);
    s_parse_mem(&m, &v, "sensors.json", crlf, n);
    assert_int_equal(v.events, 7);
    s_assert_same_events(&plain, &v);
    assert_int_equal(v.g[1].line, 10);
    free(b);
    free(crlf);
    s_coll_free(&plain);
    s_coll_free(&v);
    s_close(&m);
    (void)st;
}

static char *s_to_cp1250(const char *utf8, size_t len, size_t *out_len)
{
    iconv_t cd = iconv_open("WINDOWS-1250", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char *out = malloc(len + 1), *ip = (char *)utf8, *op = out;
    size_t il = len, ol = len;
    assert_int_not_equal(iconv(cd, &ip, &il, &op, &ol), (size_t)-1);
    iconv_close(cd);
    *out_len = len - ol;
    out[*out_len] = '\0';
    return out;
}

static void test_variant_windows_1250(void **st)
{
    mod_t m;
    coll_t plain, v;
    size_t len, vlen, clen;
    s_open(&m, PRELOAD_117);
    char *b = s_read(FIX "gios_station_findAll.json", &len);
    char *cp = s_to_cp1250(b, len, &clen);
    assert_true(clen < len); /* the diacritics are one byte now */
    s_coll_init(&plain);
    s_coll_init(&v);
    s_parse_mem(&m, &plain, "findAll.json", b, len);
    s_parse_mem(&m, &v, "findAll.json", cp, clen);
    assert_int_equal(v.events, 207);
    assert_int_equal(v.quarantined, 0);
    s_assert_same_events(&plain, &v);
    s_coll_free(&v);

    /* a broken record keeps its original (Windows-1250) bytes */
    size_t at = s_find(cp, "\"51.129378\"");
    char *bad = s_splice(cp, clen, at, 11, "\"abc\"", &vlen);
    s_coll_init(&v);
    s_parse_mem(&m, &v, "findAll.json", bad, vlen);
    assert_int_equal(v.events, 206);
    assert_int_equal(v.quarantined, 1);
    const got_t *q = s_q(&v, 0);
    const char *rec = strstr(bad, "{\"id\":117,");
    assert_non_null(rec);
    assert_int_equal(q->len, (size_t)(strstr(rec, "},{") - rec) + 1);
    assert_memory_equal(q->bytes, rec, q->len);
    assert_non_null(memchr(q->bytes, 0xb3, q->len)); /* 'ł' in "Wrocław" */
    s_coll_free(&v);
    free(bad);

    /* declared UTF-8: each field that is not is Windows-1250 on its own */
    s_coll_init(&v);
    char err[256];
    rz_input_t in = {.origin = "http POST /gios",
                     .name = "findAll",
                     .data = (const uint8_t *)cp,
                     .len = clen,
                     .content_type = "application/json; charset=UTF-8",
                     .content_id = "0"};
    rz_teryt_lend(m.teryt, &v.out);
    assert_int_equal(M->parse(m.state, &in, &v.out, err, sizeof err), 0);
    assert_int_equal(v.events, 207);
    assert_int_equal(v.quarantined, 0);
    s_assert_same_events(&plain, &v);
    s_coll_free(&v);
    s_coll_free(&plain);

    /* 0x81 means nothing in Windows-1250 either: its record goes */
    s_coll_init(&v);
    assert_int_equal(
        s_parse_buf(&m, &v, "x.json", "[\"\x81\"]", 5, err, sizeof err), 0);
    assert_int_equal(v.quarantined, 1);
    assert_string_equal(s_q(&v, 0)->reason,
                        "byte 0x81 at offset 2 is neither UTF-8 nor "
                        "Windows-1250");
    s_coll_free(&v);
    free(b);
    free(cp);
    s_coll_free(&plain);
    s_close(&m);
    (void)st;
}

static void test_variant_truncated_mid_record(void **st)
{
    mod_t m;
    coll_t c;
    size_t len;
    s_open(&m, PRELOAD_117);
    char *b = s_read(FIX "gios_data_getData_14395_PM10.json", &len);
    /* cut inside values[10] (07:00): 10 go out, the rest is one record */
    size_t at = s_find(b, "{\"date\":\"2021-01-23 07:00:00\"") + 20;
    s_coll_init(&c);
    s_parse_cut(&m, &c, "gios_data_getData_14395_PM10.json", b, at,
                "the root object");
    assert_int_equal(c.n, 11);
    assert_int_equal(c.events, 10);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "values[10]");
    assert_string_equal(s_q(&c, 0)->reason,
                        "truncated: the input ends inside this record");
    assert_string_equal(s_q(&c, 0)->bytes, "{\"date\":\"2021-01-23 ");
    s_coll_free(&c);

    /* the station list cut inside station 117 */
    free(b);
    b = s_read(FIX "gios_station_findAll.json", &len);
    at = s_find(b, "\"Wrocław - Korzeniowskiego\"");
    s_coll_init(&c);
    s_parse_cut(&m, &c, "findAll.json", b, at, "the root array");
    assert_int_equal(c.n, 2);
    assert_int_equal(c.events, 1);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[1]");
    s_coll_free(&c);

    /* an index cut in half is one truncated record */
    free(b);
    b = s_read(FIX "gios_aqindex_getIndex_117.json", &len);
    s_coll_init(&c);
    s_parse_cut(&m, &c, "getIndex_117.json", b, len / 2, "the root object");
    assert_int_equal(c.events, 0);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->reason,
                        "truncated: the input ends inside the object");
    free(b);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* Cut where a record ends: every record read goes out, none is
 * quarantined, and only the whole-input failure tells the file is short
 * (it used to pass as complete). */
static void test_variant_truncated_at_record_boundary(void **st)
{
    mod_t m;
    coll_t c;
    size_t len;
    s_open(&m, PRELOAD_117);
    char *b = s_read(FIX "gios_data_getData_14395_PM10.json", &len);
    /* cut after values[9], before the ',' that starts values[10] */
    size_t at = s_find(b, "{\"date\":\"2021-01-23 07:00:00\"");
    while (b[at - 1] != '}')
        at--;
    s_coll_init(&c);
    s_parse_cut(&m, &c, "gios_data_getData_14395_PM10.json", b, at,
                "the root object");
    assert_int_equal(c.n, 10);
    assert_int_equal(c.events, 10);
    assert_int_equal(c.quarantined, 0);
    s_coll_free(&c);
    free(b);

    /* the station list cut after station [1], before and after its ',' */
    b = s_read(FIX "gios_station_findAll.json", &len);
    at = s_find(b, "{\"id\":129,"); /* station [2] */
    for (size_t cut = at - 1; cut <= at; cut++) {
        s_coll_init(&c);
        s_parse_cut(&m, &c, "findAll.json", b, cut, "the root array");
        assert_int_equal(c.n, 2);
        assert_int_equal(c.events, 2);
        assert_int_equal(c.quarantined, 0);
        s_coll_free(&c);
    }
    free(b);
    s_close(&m);
    (void)st;
}

static void test_variant_corrupted_record_in_the_middle(void **st)
{
    mod_t m;
    coll_t c;
    size_t len, vlen;
    s_open(&m, PRELOAD_117);
    char *b = s_read(FIX "gios_data_getData_14395_PM10.json", &len);
    /* a decimal comma in values[4] breaks the JSON of that record only */
    size_t at = s_find(b, "14.9649");
    char *v = s_splice(b, len, at, 7, "14,9649", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "gios_data_getData_14395_PM10.json", v, vlen);
    assert_int_equal(c.events, 64);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "values[4]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "not valid JSON"));
    assert_string_equal(s_q(&c, 0)->bytes,
                        "{\"date\":\"2021-01-23 13:00:00\",\"value\":14,9649}");
    /* the records around it are there */
    Ratusz__V1__Event *ev = s_ev(&c, 4);
    assert_string_equal(ev->id, "gios-14395-2021012312");
    ratusz__v1__event__free_unpacked(ev, NULL);
    free(v);
    s_coll_free(&c);

    /* a station whose latitude is not a number */
    free(b);
    b = s_read(FIX "gios_station_findAll.json", &len);
    at = s_find(b, "\"51.129378\"");
    v = s_splice(b, len, at, 11, "\"abc\"", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[1]");
    assert_string_equal(s_q(&c, 0)->reason,
                        "gegrLat: 'abc' is not a WGS84 latitude");
    free(v);
    s_coll_free(&c);

    /* a voivodeship TERC does not know */
    at = s_find(b, "DOLNOŚLĄSKIE");
    v = s_splice(b, len, at, strlen("DOLNOŚLĄSKIE"), "DOLNOSLASKIE", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_string_equal(s_q(&c, 0)->reason,
                        "city.commune.provinceName: 'DOLNOSLASKIE' is not a "
                        "voivodeship in TERC");
    free(v);
    free(b);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* The station list as a person or a script saves it: pretty-printed with
 * an indent of 4, keys in the feed's order. */
static char *s_pretty_stations(size_t *len)
{
    json_t *j = s_load_fix("gios_station_findAll.json");
    char *t = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(j);
    assert_non_null(t);
    *len = strlen(t);
    return t;
}

/* Where record i of a pretty-printed root array starts. */
static size_t s_nth_record(const char *t, size_t i)
{
    const char *p = t;
    for (size_t k = 0; k <= i; k++) {
        p = strstr(p + 1, "\n    {");
        assert_non_null(p);
    }
    return (size_t)(p + 5 - t);
}

static void test_pretty_printed_damaged_record_takes_only_itself(void **st)
{
    mod_t m;
    coll_t c;
    size_t len, vlen;
    s_open(&m, "teryt=1");
    char *t = s_pretty_stations(&len);
    size_t r10 = s_nth_record(t, 10), r11 = s_nth_record(t, 11);
    /* the record as it should be quarantined: to its '}', without ',' */
    size_t r10_len = (size_t)(strstr(t + r10, "\n    },") - (t + r10)) + 6;

    /* an unterminated string running across lines */
    size_t at = s_find(t + r10, "\",\n") + r10;
    char *v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events + c.quarantined, 207);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[10]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "is not closed before the end "
                                               "of its line"));
    assert_int_equal(s_q(&c, 0)->len, r10_len - 1);
    assert_memory_equal(s_q(&c, 0)->bytes, v + r10, r10_len - 1);
    /* the next record went out */
    assert_string_equal(c.g[11].key, "[11]");
    assert_true(c.g[11].is_event);
    free(v);
    s_coll_free(&c);

    /* a record whose nested object is never closed */
    at = s_find(t + r10, "\n        }") + r10;
    v = s_splice(t, len, at, 10, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[10]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "is not closed (a '}' or ']' "
                                               "is missing)"));
    assert_int_equal(s_q(&c, 0)->len, r10_len - 10);
    assert_memory_equal(s_q(&c, 0)->bytes, v + r10, r10_len - 10);
    assert_true(c.g[11].is_event);
    free(v);
    s_coll_free(&c);

    /* a bad number: jansson's reason, the record's own bytes */
    at = s_find(t + r11, "\"id\": ") + r11 + 6;
    v = s_splice(t, len, at, 0, "1x", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[11]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "not valid JSON"));
    assert_true(c.g[12].is_event);
    free(v);
    s_coll_free(&c);

    /* the last record damaged: the file still ends where it should */
    size_t last = s_nth_record(t, 206);
    at = s_find(t + last, "\",\n") + last;
    v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[206]");
    free(v);
    s_coll_free(&c);

    /* cut short inside a record: that record, and the file fails whole */
    s_coll_init(&c);
    s_parse_cut(&m, &c, "findAll.json", t, r11 + 40, "the root array");
    assert_int_equal(c.events, 11);
    assert_int_equal(c.quarantined, 1);
    assert_non_null(strstr(s_q(&c, 0)->reason, "input ends inside"));
    s_coll_free(&c);
    free(t);
    s_close(&m);
    (void)st;
}

/* Where record i of the minified station list (as the API sends it)
 * starts: each begins with {"id": and ends with "},". */
static size_t s_nth_minified(const char *t, size_t i)
{
    if (i == 0)
        return 1;
    const char *p = t;
    for (size_t k = 0; k < i; k++) {
        p = strstr(p + 1, "},{\"id\":");
        assert_non_null(p);
    }
    return (size_t)(p + 2 - t);
}

/* The API's own minified list: a record that does not parse ends where
 * the next one begins ("},{\"id\":"), and only it is quarantined. */
static void test_minified_damaged_record_takes_only_itself(void **st)
{
    mod_t m;
    coll_t c;
    size_t len, vlen;
    s_open(&m, "teryt=1");
    char *t = s_read(FIX "gios_station_findAll.json", &len);
    size_t r10 = s_nth_minified(t, 10), r11 = s_nth_minified(t, 11);

    /* a lost quote: every quote after it would be read inside out */
    size_t at = s_find(t + r10, "\",\"gegrLat\"") + r10;
    char *v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[10]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "not valid JSON"));
    assert_int_equal(s_q(&c, 0)->len, r11 - 1 - r10 - 1);
    assert_memory_equal(s_q(&c, 0)->bytes, v + r10, r11 - 1 - r10 - 1);
    assert_true(c.g[11].is_event);
    free(v);
    s_coll_free(&c);

    /* a missing '}': the same */
    at = s_find(t + r10, "}},") + r10;
    v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[10]");
    assert_true(c.g[11].is_event);
    free(v);
    s_coll_free(&c);

    /* the last record damaged: it ends before the list's "]" */
    size_t last = s_nth_minified(t, 206);
    at = s_find(t + last, "\",\"gegrLat\"") + last;
    v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "[206]");
    assert_int_equal(s_q(&c, 0)->len, vlen - 1 - last);
    free(v);
    s_coll_free(&c);

    /* cut short inside a record: the file still fails whole */
    s_coll_init(&c);
    s_parse_cut(&m, &c, "findAll.json", t, r11 + 40, "the root array");
    assert_int_equal(c.events, 11);
    assert_int_equal(c.quarantined, 1);
    s_coll_free(&c);
    free(t);
    s_close(&m);
    (void)st;
}

static void test_pretty_printed_getdata_damaged_value(void **st)
{
    mod_t m;
    coll_t c;
    size_t len, vlen;
    s_open(&m, PRELOAD_117);
    json_t *j = s_load_fix("gios_data_getData_14395_PM10.json");
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    len = strlen(t);
    /* values[4]'s date loses its closing quote */
    size_t at = s_find(t, "2021-01-23 13:00:00") + 19;
    char *v = s_splice(t, len, at, 1, "", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "gios_data_getData_14395_PM10.json", v, vlen);
    assert_int_equal(c.events, 64);
    assert_int_equal(c.quarantined, 1);
    assert_string_equal(s_q(&c, 0)->key, "values[4]");
    assert_non_null(strstr(s_q(&c, 0)->reason, "not closed"));
    Ratusz__V1__Event *ev = s_ev(&c, 4);
    assert_string_equal(ev->id, "gios-14395-2021012312");
    ratusz__v1__event__free_unpacked(ev, NULL);
    free(v);
    free(t);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

/* A UTF-8 file with one field in Windows-1250, one with a byte that is
 * neither, and one cut inside a two-byte letter. */
static void test_encoding_is_decided_per_field(void **st)
{
    mod_t m;
    coll_t plain, c;
    size_t len, vlen, clen;
    char err[256];
    s_open(&m, "teryt=1");
    char *b = s_read(FIX "gios_station_findAll.json", &len);
    s_coll_init(&plain);
    s_parse_mem(&m, &plain, "findAll.json", b, len);

    /* one station name in Windows-1250: its letters kept, no others
     * touched */
    const char *name = "\"Wrocław - Bartnicza\"";
    size_t at = s_find(b, name);
    char *cp = s_to_cp1250(name, strlen(name), &clen);
    char *v = s_splice(b, len, at, strlen(name), cp, &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 207);
    assert_int_equal(c.quarantined, 0);
    s_assert_same_events(&plain, &c);
    free(v);
    free(cp);
    s_coll_free(&c);

    /* a byte Windows-1250 does not define: that station only */
    v = s_splice(b, len, at + 1, 0, "\x81", &vlen);
    s_coll_init(&c);
    s_parse_mem(&m, &c, "findAll.json", v, vlen);
    assert_int_equal(c.events, 206);
    assert_int_equal(c.quarantined, 1);
    char want[128];
    snprintf(want, sizeof want,
             "byte 0x81 at offset %zu is neither UTF-8 nor Windows-1250",
             at + 1);
    assert_string_equal(s_q(&c, 0)->reason, want);
    free(v);
    s_coll_free(&c);

    /* cut inside the 'ł' of a station near the end: the stations before
     * it go out in their own letters, the cut one is quarantined */
    const char *last = strstr(b, "\"id\":9791,");
    size_t records = 0;
    for (const char *p = b; (p = strstr(p, "\"stationName\"")) && p < last; p++)
        records++;
    const char *l = strstr(last, "\xc5");
    assert_non_null(l);
    size_t cut = (size_t)(l - b) + 1;
    s_coll_init(&c);
    assert_int_equal(
        s_parse_buf(&m, &c, "findAll.json", b, cut, err, sizeof err),
        RZ_EINVAL);
    assert_non_null(strstr(err, "the file is cut short"));
    assert_int_equal(c.events, records);
    assert_int_equal(c.quarantined, 1);
    free(b);
    s_coll_free(&c);
    s_coll_free(&plain);
    s_close(&m);
    (void)st;
}

static void test_several_documents_in_one_input(void **st)
{
    mod_t m;
    coll_t c;
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    /* a tailed log of getData bodies, one per line, and a stray line */
    s_parse_str(&m, &c, "getData_14395.ndjson",
                "{\"key\":\"PM10\",\"values\":[{\"date\":\"2021-01-23 "
                "17:00:00\",\"value\":1}]}\n"
                "{\"key\":\"PM10\",\"values\":[{\"date\":\"2021-01-23 "
                "18:00:00\",\"value\":null}]}\n"
                "oops\n");
    assert_int_equal(c.events, 2);
    assert_int_equal(c.quarantined, 1);
    assert_int_equal(c.g[1].line, 2);
    assert_string_equal(s_q(&c, 0)->key, "document 3");
    assert_int_equal(s_q(&c, 0)->line, 3);
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_what_is_not_a_gios_response(void **st)
{
    mod_t m;
    coll_t c;
    char err[512];
    s_open(&m, PRELOAD_117);
    s_coll_init(&c);
    const char *csv = "WOJ;POW;GMI\n02;;;\n";
    assert_int_equal(
        s_parse_buf(&m, &c, "x.csv", csv, strlen(csv), err, sizeof err),
        RZ_EINVAL);
    assert_string_equal(err, "not a GIOŚ JSON response: expected '[' or '{' "
                             "at line 1, found 'W'");
    assert_int_equal(
        s_parse_buf(&m, &c, "x", "\xef\xbb\xbf \r\n", 6, err, sizeof err),
        RZ_EINVAL);
    assert_string_equal(err, "empty input: no JSON document");
    const char *geo = "{\"type\":\"FeatureCollection\",\"features\":[]}";
    assert_int_equal(
        s_parse_buf(&m, &c, "x.json", geo, strlen(geo), err, sizeof err),
        RZ_EINVAL);
    assert_string_equal(err, "not a GIOŚ response: an object with keys "
                             "'type', 'features'");
    assert_int_equal(c.n, 0);
    /* an array of things that are no GIOŚ record: each is quarantined */
    s_parse_str(&m, &c, "x.json", "[{\"a\":1}, 5, {\"id\":1}]");
    assert_int_equal(c.quarantined, 3);
    assert_string_equal(s_q(&c, 0)->reason,
                        "not a GIOŚ station, sensor, measurement or index "
                        "record (keys: 'a')");
    assert_string_equal(s_q(&c, 1)->reason, "not an object but a scalar");
    s_coll_free(&c);
    s_close(&m);
    (void)st;
}

static void test_open_checks_its_options(void **st)
{
    char err[512];
    void *conf = calloc(1, M->conf_size), *state = NULL;
    assert_int_equal(rz_conf_init(M->options, conf), 0);
    assert_int_equal(
        rz_conf_set(M->options, conf, "tenant", "12345", err, sizeof err), 0);
    assert_int_equal(M->open(&state, conf, err, sizeof err), RZ_ECONFIG);
    assert_string_equal(err, "environment.tenant: '12345' is not a TERC code "
                             "(2, 4 or 7 digits)");
    assert_int_equal(
        rz_conf_set(M->options, conf, "tenant", "", err, sizeof err), 0);
    /* the register is the runtime's: the module has no option for one */
    assert_int_not_equal(
        rz_conf_set(M->options, conf, "terc", TERC, err, sizeof err), 0);
    /* a preloaded list must be understood whole */
    char path[] = "/tmp/ratusz-env-preload-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char list[] = "[{\"id\":114},{\"a\":1}]";
    assert_int_equal(write(fd, list, sizeof list - 1),
                     (ssize_t)sizeof list - 1);
    close(fd);
    assert_int_equal(
        rz_conf_set(M->options, conf, "preload", path, err, sizeof err), 0);
    assert_int_equal(M->open(&state, conf, err, sizeof err), RZ_ECONFIG);
    unlink(path);
    assert_non_null(strstr(err, "2 record(s) not understood, the first: "
                                "[0]: "));
    rz_conf_close(M->options, conf);
    free(conf);
    (void)st;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tz_warsaw_from_system_database),
        cmocka_unit_test(test_parse_local_rejects_what_is_not_a_date),
        cmocka_unit_test(test_lent_register_names_a_gmina_like_make_sample),
        cmocka_unit_test(test_station_list_maps_every_station_to_its_gmina),
        cmocka_unit_test(
            test_station_list_without_register_or_tenant_is_quarantined),
        cmocka_unit_test(test_sensors_of_station_117),
        cmocka_unit_test(test_sensors_polish_keys_give_the_same_events),
        cmocka_unit_test(test_getdata_pm10_of_sensor_14395),
        cmocka_unit_test(test_preload_takes_comma_separated_lists_in_any_order),
        cmocka_unit_test(
            test_preloaded_stations_are_placed_by_the_lent_register),
        cmocka_unit_test(test_getdata_nulls_are_no_measurement),
        cmocka_unit_test(test_getdata_of_a_sensor_no_list_names),
        cmocka_unit_test(test_getdata_empty_and_key_mismatch),
        cmocka_unit_test(test_getdata_epoch_millis_and_strings),
        cmocka_unit_test(test_getdata_across_dst_changes),
        cmocka_unit_test(test_getdata_posted_over_http),
        cmocka_unit_test(test_index_of_station_117),
        cmocka_unit_test(test_index_brak_indeksu_is_no_value),
        cmocka_unit_test(test_polish_keys_give_the_same_events),
        cmocka_unit_test(test_variant_bom_and_crlf_change_nothing),
        cmocka_unit_test(test_variant_windows_1250),
        cmocka_unit_test(test_variant_truncated_mid_record),
        cmocka_unit_test(test_variant_truncated_at_record_boundary),
        cmocka_unit_test(test_variant_corrupted_record_in_the_middle),
        cmocka_unit_test(test_pretty_printed_damaged_record_takes_only_itself),
        cmocka_unit_test(test_pretty_printed_getdata_damaged_value),
        cmocka_unit_test(test_minified_damaged_record_takes_only_itself),
        cmocka_unit_test(test_encoding_is_decided_per_field),
        cmocka_unit_test(test_several_documents_in_one_input),
        cmocka_unit_test(test_what_is_not_a_gios_response),
        cmocka_unit_test(test_open_checks_its_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
