/* ingest.c - durable ingest rate and publish->ack latency of one publisher.
 *
 *   rz-bench-ingest [-e ENDPOINT] [-n EVENTS] [-w WINDOW] [-b BATCH]
 *                   [-s PAYLOAD_BYTES] [--latency N]
 *
 * Publishes n events of about PAYLOAD_BYTES each (raw data, 256 by default)
 * with the given window and batch, and prints events/s. --latency N then
 * publishes N events one at a time (window 1) and prints p50/p99/p999 of
 * publish->ack. Numbers only: the comparison with peers is bench/compare.sh.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratusz/ratusz.h"

static uint64_t s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct s_state {
    uint64_t acked, failed;
    uint64_t sent_ns;
    uint64_t last_ns;
} s_state_t;

static void s_on_ack(const rz_ack_t *a, void *user)
{
    s_state_t *st = user;
    if (a->code)
        st->failed++;
    else
        st->acked++;
    st->last_ns = s_mono_ns();
}

static int s_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *ep = RZ_DEFAULT_FRONT;
    uint64_t n = 200000, lat_n = 0;
    uint32_t window = 256, batch = 64;
    size_t payload = 256;
    static struct option opts[] = {{"latency", required_argument, 0, 'L'},
                                   {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "e:n:w:b:s:", opts, NULL)) != -1) {
        switch (o) {
        case 'e': ep = optarg; break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 'w': window = (uint32_t)atoi(optarg); break;
        case 'b': batch = (uint32_t)atoi(optarg); break;
        case 's': payload = (size_t)atoi(optarg); break;
        case 'L': lat_n = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: %s [-e EP] [-n N] [-w WINDOW] [-b BATCH] "
                            "[-s BYTES] [--latency N]\n", argv[0]);
            return 2;
        }
    }
    if (batch > window)
        batch = window;
    uint8_t *data = malloc(payload);
    memset(data, 'x', payload);
    char run[32];
    snprintf(run, sizeof run, "%d-%lld", (int)getpid(),
             (long long)rz_now_us());

    rz_client_opts_t co = {.window = window, .batch = batch, .timeout_ms = 60000};
    rz_client_t *c = rz_client_new(ep, &co);
    if (!c) {
        perror("rz_client_new");
        return 1;
    }
    s_state_t st = {0};
    rz_client_set_ack_cb(c, s_on_ack, &st);
    Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
    Ratusz__V1__RawData raw = RATUSZ__V1__RAW_DATA__INIT;
    char id[64];
    ev.source = "/1261011/bench/ingest";
    ev.type = "pl.gov.gmina.bench.ingest.v1";
    ev.tenant = "1261011";
    ev.data_case = RATUSZ__V1__EVENT__DATA_RAW;
    ev.raw = &raw;
    raw.content_type = "application/octet-stream";
    raw.bytes.data = data;
    raw.bytes.len = payload;
    ev.id = id;

    uint64_t t0 = s_mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%llu", run, (unsigned long long)i);
        ev.time = rz_now_us();
        if (rz_publish(c, &ev, NULL) < 0) {
            fprintf(stderr, "publish failed\n");
            return 1;
        }
    }
    if (rz_flush(c, 120000) < 0) {
        fprintf(stderr, "flush timed out\n");
        return 1;
    }
    double secs = (double)(s_mono_ns() - t0) / 1e9;
    printf("ingest: %llu events, %zu-byte payload, window %u, batch %u: "
           "%.0f events/s (%.2f s), failed %llu\n",
           (unsigned long long)n, payload, window, batch, (double)n / secs,
           secs, (unsigned long long)st.failed);
    rz_client_destroy(&c);

    if (lat_n) {
        rz_client_opts_t lo = {.window = 1, .batch = 1, .timeout_ms = 60000};
        c = rz_client_new(ep, &lo);
        rz_client_set_ack_cb(c, s_on_ack, &st);
        uint64_t *lat = malloc(lat_n * sizeof *lat);
        for (uint64_t i = 0; i < lat_n; i++) {
            snprintf(id, sizeof id, "%s-lat-%llu", run, (unsigned long long)i);
            uint64_t s = s_mono_ns();
            rz_publish(c, &ev, NULL);
            rz_flush(c, 60000);
            lat[i] = s_mono_ns() - s;
        }
        qsort(lat, lat_n, sizeof *lat, s_cmp);
        printf("latency: %llu single events (window 1): p50 %.1f us, "
               "p99 %.1f us, p999 %.1f us\n",
               (unsigned long long)lat_n, lat[lat_n / 2] / 1e3,
               lat[lat_n * 99 / 100] / 1e3, lat[lat_n * 999 / 1000] / 1e3);
        free(lat);
        rz_client_destroy(&c);
    }
    free(data);
    return st.failed ? 1 : 0;
}
