/* main.c - ratusz-kafka: the bridge between a Ratusz broker and Kafka
 *
 *   ratusz-kafka -c /etc/ratusz/kafka-out.yaml            run
 *   ratusz-kafka -c FILE check                            check the config
 *   ratusz-kafka -c FILE quarantine list                  what was set aside
 *   ratusz-kafka -c FILE quarantine count
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 when it could not run, 2 for a
 * usage or configuration error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: ratusz-kafka [-c FILE] [--OPTION VALUE ...] [COMMAND]\n"
        "\n"
        "Carries events between a Ratusz broker and Kafka: mode 'out'\n"
        "produces the broker's log to Kafka topics, mode 'in' publishes\n"
        "Kafka topics into the broker.\n"
        "\n"
        "commands:\n"
        "  run               run the bridge (the default)\n"
        "  check             check the configuration, the librdkafka\n"
        "                    properties and the key files, then exit\n"
        "  quarantine list   print the records set aside, one JSON line each\n"
        "  quarantine count  print how many there are\n"
        "\n"
        "options (each is also a YAML key of the -c file):\n"
        "  -c, --config FILE   YAML configuration\n"
        "  --print-config      print the effective configuration\n"
        "  -h, --help          this text\n"
        "  -V, --version       print the version\n");
    rz_conf_usage(rzk_options, out);
}

/* -c FILE as rz_conf_args will load it, for FILE:LINE in later messages
 * about the kafka properties. */
static const char *s_config_path(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
            i + 1 < argc)
            path = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
    }
    return path;
}

int main(int argc, char **argv)
{
    rzc_log_init("ratusz-kafka", RZC_LOG_STAMPED);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("ratusz-kafka %s\n", RZ_VERSION);
            return 0;
        }
    }
    rzk_conf_t c;
    rz_keyopts_t keys;
    char err[1024], name[128];
    int first = argc, what = 0, rc;
    memset(&c, 0, sizeof c);
    memset(&keys, 0, sizeof keys);
    if (rz_conf_init(rzk_options, &c) < 0) {
        fprintf(stderr, "ratusz-kafka: out of memory\n");
        return 1;
    }
    c.file = s_config_path(argc, argv);
    rc = rz_conf_args(rzk_options, &c, argc, argv, &first, &what, err,
                      sizeof err);
    if (rc < 0) {
        fprintf(stderr, "ratusz-kafka: %s\n", err);
        rz_conf_close(rzk_options, &c);
        return 2;
    }
    if (rc == 1 && what == 'h') {
        s_usage(stdout);
        rz_conf_close(rzk_options, &c);
        return 0;
    }
    if (!*c.name) {
        snprintf(name, sizeof name, "kafka/%s",
                 c.mode == RZK_MODE_OUT ? "out" : "in");
        rz_conf_set(rzk_options, &c, "name", name, err, sizeof err);
    }
    if (rc == 1) {
        rz_conf_print(rzk_options, &c, "ratusz-kafka", stdout);
        rz_conf_close(rzk_options, &c);
        return 0;
    }
    rzc_log_set_level(c.log_level);
    const char *cmd = first < argc ? argv[first] : "run";
    int status = 0;

    if (!strcmp(cmd, "quarantine")) {
        const char *sub = first + 1 < argc ? argv[first + 1] : "list";
        rzk_quarantine_t *q = rzk_quarantine_open(c.data_dir, err, sizeof err);
        if (!q) {
            fprintf(stderr, "ratusz-kafka: quarantine: %s\n", err);
            status = 1;
        } else if (!strcmp(sub, "list")) {
            status = rzk_quarantine_list(q, stdout) < 0 ? 1 : 0;
        } else if (!strcmp(sub, "count")) {
            printf("%llu\n", (unsigned long long)rzk_quarantine_count(q));
        } else {
            fprintf(stderr,
                    "ratusz-kafka: quarantine: unknown '%s' (list, count)\n",
                    sub);
            status = 2;
        }
        rzk_quarantine_close(&q);
        goto out;
    }
    if (strcmp(cmd, "run") && strcmp(cmd, "check")) {
        fprintf(stderr, "ratusz-kafka: unknown command '%s'\n", cmd);
        s_usage(stderr);
        status = 2;
        goto out;
    }
    if (rzk_conf_check(&c, err, sizeof err) < 0) {
        fprintf(stderr, "ratusz-kafka: %s%s%s\n", c.file ? c.file : "",
                c.file ? ": " : "", err);
        status = 2;
        goto out;
    }
    rd_kafka_conf_t *kc = rzk_kafka_conf(&c, err, sizeof err);
    if (!kc) {
        fprintf(stderr, "ratusz-kafka: %s\n", err);
        status = 2;
        goto out;
    }
    rd_kafka_conf_destroy(kc);
    if ((rc = rz_keyopts_load(&keys, c.key, c.server_key, err, sizeof err))) {
        fprintf(stderr, "ratusz-kafka: %s%s%s\n", c.file ? c.file : "",
                c.file ? ": " : "", err);
        status = 2;
        goto out;
    }
    c.keys = &keys;
    if (!strcmp(cmd, "check")) {
        printf("ratusz-kafka: %s: configuration ok\n",
               c.file ? c.file : "flags");
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = c.mode == RZK_MODE_OUT ? rzk_run_out(&c, &s_stop)
                                : rzk_run_in(&c, &s_stop);
    if (rc < 0) {
        rzc_log(RZC_LOG_ERROR, "cannot run: %s", rz_strerror(rc));
        status = rc == RZ_ECONFIG ? 2 : 1;
    }
out:
    rz_keyopts_close(&keys);
    rz_conf_close(rzk_options, &c);
    return status;
}
