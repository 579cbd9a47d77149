/* test_kafka_keys.c - ratusz-kafka refuses at start a key file it cannot
 * use (missing, readable by others) and half a key configuration, naming
 * the file, with exit status 2. No broker or Kafka is needed: `check`
 * loads the keys and exits. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kharness.h"

/* A key pair and a server key made for these tests with zmq_curve_keypair;
 * they guard nothing. */
#define SERVER_PUB "+U=&gnT/^Sgm3>x:8rw8TAm4])ioae+]niE1p3::"
#define CLIENT_PUB "ni]=70-rW@rh>JHh!>ma.-He-Y.ZM^rkIJrhNvc}"
#define CLIENT_SEC "U8m:44S+rxFh-+^}{oqi9eir.Jxou$w<sLdumn5S"

static void s_write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

/* Write the bridge's config with extra lines and run `check`. */
static int s_check(rzk_bridge_t *b, const char *extra, char *out, size_t len)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data_dir: %s/data\nmode: out\nkafka:\n"
             "  bootstrap.servers: 127.0.0.1:1\n%s",
             b->dir, extra);
    s_write(b->conf, yaml, 0644);
    return rzk_bridge_cmd(b, "check", out, len);
}

static void
test_kafka_key_missing_or_group_readable_refused_naming_file(void **state)
{
    (void)state;
    rzk_bridge_t b;
    char out[4096], extra[1024], key[400], pub[400];
    assert_int_equal(rzk_bridge_prepare(&b, "mode: out\n"), 0);
    snprintf(key, sizeof key, "%s/kafka.key", b.dir);
    snprintf(pub, sizeof pub, "%s/broker.pub", b.dir);
    s_write(pub, "# ratusz public key\nname: broker\npublic: " SERVER_PUB "\n",
            0644);

    /* the configuration is fine without keys */
    assert_int_equal(s_check(&b, "", out, sizeof out), 0);

    snprintf(extra, sizeof extra, "key: %s\nserver_key: %s\n", key, pub);
    assert_int_equal(s_check(&b, extra, out, sizeof out), 2);
    assert_non_null(strstr(out, key));

    s_write(
        key,
        "# ratusz secret key: keep it private\nname: kafka\npublic: " CLIENT_PUB
        "\nsecret: " CLIENT_SEC "\n",
        0644);
    snprintf(extra, sizeof extra, "key: %s\nserver_key: '%s'\n", key,
             SERVER_PUB);
    assert_int_equal(s_check(&b, extra, out, sizeof out), 2);
    assert_non_null(strstr(out, key));
    assert_null(strstr(out, CLIENT_SEC));

    /* the same as flags, and for run */
    char args[1200];
    snprintf(args, sizeof args, "--key '%s' --server-key '%s' run", key, pub);
    assert_int_equal(s_check(&b, "", out, sizeof out), 0);
    assert_int_equal(rzk_bridge_cmd(&b, args, out, sizeof out), 2);
    assert_non_null(strstr(out, key));

    snprintf(extra, sizeof extra, "server_key: %s\n", pub);
    assert_int_equal(s_check(&b, extra, out, sizeof out), 2);
    assert_non_null(strstr(out, "server_key is set but key is not"));
    rzk_bridge_cleanup(&b, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_kafka_key_missing_or_group_readable_refused_naming_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
