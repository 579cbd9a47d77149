/* test_diskfull.c - a full disk is not a storage error: publishers get
 * RZ_EDISKFULL, reads keep working, nothing acked is lost, and the broker
 * takes events again by itself once there is room, without a restart.
 *
 * The data dir is a small tmpfs mounted for the test, which needs root (or
 * CAP_SYS_ADMIN); the test skips (77) where it cannot mount. "Room comes
 * back" is a remount with a bigger size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define SRC "/1261011/budget/disk"
#define SUBJECT "unit:disk"
#define PAD 2000 /* bytes of payload per event */

static char s_pad[PAD + 1];

typedef struct fx {
    rzt_broker_t b;
    char mnt[256];  /* the tmpfs */
    char data[300]; /* the broker's data dir on it */
    int mounted;
} fx_t;

static void s_event(Ratusz__V1__Event *ev, Ratusz__V1__BudgetEntry *be,
                    char *id, size_t id_len, int i)
{
    snprintf(id, id_len, "disk-%d", i);
    rzt_event(ev, be, SRC, id, SUBJECT, 1700000000000000 + i, i);
    be->description = s_pad;
}

static int s_on_seq(const rz_event_t *e, void *user)
{
    uint64_t *seq = user;
    *seq = e->msg->seq;
    assert_int_equal(strlen(e->msg->budget->description), PAD);
    return 0;
}

static int s_mount(const char *dir, const char *size, unsigned long flags)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    return mount("tmpfs", dir, "tmpfs", flags, opts);
}

static int s_setup(void **state)
{
    memset(s_pad, 'd', PAD);
    s_pad[PAD] = '\0';
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->mnt, sizeof f->mnt) < 0)
        return -1;
    if (s_mount(f->mnt, "4m", 0) != 0) {
        fprintf(stderr, "mount tmpfs on %s: %s\n", f->mnt, strerror(errno));
        return -1;
    }
    f->mounted = 1;
    snprintf(f->data, sizeof f->data, "%s/data", f->mnt);
    /* the map may grow far past the disk: the disk fills first */
    const char *const extra[] = {"--data-dir", f->data, "--map-size",    "1M",
                                 "--map-max",  "64M",   "--max-message", "256K",
                                 NULL};
    *state = f;
    return rzt_broker_start(&f->b, extra) < 0 ? -1 : 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (!f)
        return 0;
    rzt_broker_cleanup(&f->b);
    if (f->mounted)
        umount(f->mnt);
    rmdir(f->mnt);
    free(f);
    return 0;
}

static char *s_health(rz_client_t *c, uint64_t *head)
{
    Ratusz__V1__Health *h = NULL;
    assert_int_equal(rz_health(c, &h), 0);
    char *status = strdup(h->status);
    *head = h->head_seq;
    ratusz__v1__health__free_unpacked(h, NULL);
    return status;
}

/* Lines of the broker's log that hold needle. */
static int s_log_lines(const rzt_broker_t *b, const char *needle)
{
    FILE *fp = fopen(b->log, "r");
    char line[1024];
    int n = 0;
    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp))
        if (strstr(line, needle)) {
            printf("  log: %s", line);
            n++;
        }
    fclose(fp);
    return n;
}

static void test_diskfull_refuses_then_recovers_without_restart(void **state)
{
    fx_t *f = *state;
    rz_client_t *c = rzt_client(&f->b, 0, 0);
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry be;
    char id[32];
    uint64_t seq = 0, head = 0;
    int acked = 0, rc = 0;

    /* 2 KB events until the 4 MiB file system is full */
    for (int i = 0; i < 4000; i++) {
        s_event(&ev, &be, id, sizeof id, i);
        rc = rzt_publish_sync(c, &ev, &seq);
        if (rc != 0)
            break;
        assert_int_equal(seq, (uint64_t)i + 1);
        acked++;
    }
    printf("  %d events acked, then %s\n", acked, rz_err_name(rc));
    assert_int_equal(rc, RZ_EDISKFULL);
    assert_true(acked > 100);

    /* it stays refused while full: many failures, few log lines */
    for (int i = 0; i < 300; i++) {
        s_event(&ev, &be, id, sizeof id, acked);
        assert_int_equal(rzt_publish_sync(c, &ev, NULL), RZ_EDISKFULL);
    }
    char *status = s_health(c, &head);
    printf("  health while full: %s\n", status);
    assert_string_not_equal(status, "ok");
    free(status);
    assert_int_equal(head, (uint64_t)acked);
    int lines = s_log_lines(&f->b, "failed in the last");
    assert_true(lines >= 1 && lines <= 10);
    assert_true(s_log_lines(&f->b, "storage error") == 0);

    /* reads work */
    uint64_t got = 0;
    assert_int_equal(rz_get_id(c, SRC, "disk-0", s_on_seq, &got), 1);
    assert_int_equal(got, 1);

    /* room comes back: the next publish is stored, no restart */
    assert_int_equal(s_mount(f->mnt, "64m", MS_REMOUNT), 0);
    for (int i = acked; i < acked + 50; i++) {
        s_event(&ev, &be, id, sizeof id, i);
        assert_int_equal(rzt_publish_sync(c, &ev, &seq), 0);
        assert_int_equal(seq, (uint64_t)i + 1);
    }
    status = s_health(c, &head);
    assert_string_equal(status, "ok");
    free(status);
    assert_int_equal(head, (uint64_t)acked + 50);
    assert_true(s_log_lines(&f->b, "commits succeed again") == 1);

    /* everything acked before is intact */
    for (int i = 0; i < acked + 50; i++) {
        snprintf(id, sizeof id, "disk-%d", i);
        got = 0;
        assert_int_equal(rz_get_id(c, SRC, id, s_on_seq, &got), 1);
        assert_int_equal(got, (uint64_t)i + 1);
    }
    assert_true(rzt_broker_alive(&f->b));
    rz_client_destroy(&c);

    /* and after a restart too */
    assert_int_equal(rzt_broker_stop(&f->b), 0);
    assert_int_equal(rzt_broker_restart(&f->b), 0);
    assert_int_equal(rzt_head(&f->b), (uint64_t)acked + 50);
}

/* Mounting needs root or CAP_SYS_ADMIN: probe once, skip if we cannot. */
static int s_can_mount(void)
{
    char dir[256];
    if (rzt_tmpdir(dir, sizeof dir) < 0)
        return 0;
    int ok = s_mount(dir, "1m", 0) == 0;
    if (!ok)
        printf("skip: cannot mount a tmpfs here (%s); run as root\n",
               strerror(errno));
    else
        umount(dir);
    rmdir(dir);
    return ok;
}

int main(void)
{
    if (!s_can_mount())
        return 77;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_diskfull_refuses_then_recovers_without_restart, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
