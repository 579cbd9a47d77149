/* test_journal.c - the journal in front of the store (broker/journal.c):
 * records appended and synced are applied by recovery past the store's
 * head, a torn tail is not, and segments are written again once their
 * events are applied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "journal.h"
#include "store.h"

#define SEG (64 * 1024)

typedef struct fx {
    char dir[256];
    rz_store_t *store;
} fx_t;

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || rzt_tmpdir(f->dir, sizeof f->dir) < 0)
        return -1;
    rz_store_opts_t o = {f->dir, 1 << 20, 64 << 20, RZ_SYNC_FULL, 0};
    if (rz_store_open(&f->store, &o) != 0)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    rz_store_close(&f->store);
    rzt_rmtree(f->dir);
    free(f);
    return 0;
}

/* A record of count events from seq first, source "/j", ids "first+i";
 * the caller frees it. */
static uint8_t *s_record(uint64_t first, size_t count, size_t pad, size_t *len)
{
    static const uint8_t digest[RZ_STORE_DIGEST] = {1};
    rz_store_entry_t *e = calloc(count, sizeof *e);
    char(*ids)[24] = calloc(count, sizeof *ids);
    uint8_t *stored = calloc(1, pad + 16);
    assert_non_null(e);
    assert_non_null(ids);
    assert_non_null(stored);
    size_t need = RZ_JOURNAL_HDR;
    for (size_t i = 0; i < count; i++) {
        snprintf(ids[i], sizeof ids[i], "%llu",
                 (unsigned long long)(first + i));
        stored[0] = 0x0a; /* Event.id, as a producer would send it */
        e[i] = (rz_store_entry_t){.seq = first + i,
                                  .time = (int64_t)(first + i),
                                  .stored = stored,
                                  .stored_len = pad,
                                  .source = "/j",
                                  .source_len = 2,
                                  .id = ids[i],
                                  .id_len = strlen(ids[i]),
                                  .topic = "t.v1",
                                  .topic_len = 4,
                                  .digest = digest};
        need += rz_journal_event_size(&e[i]);
    }
    uint8_t *rec = malloc(need);
    assert_non_null(rec);
    *len = rz_journal_record_encode(rec, e, count, 1);
    assert_int_equal(*len, need);
    free(e);
    free(ids);
    free(stored);
    return rec;
}

/* The journal of f's data folder, opened and recovered: the recovery
 * must apply `applied` events. */
static rz_journal_t *s_open(fx_t *f, int applied)
{
    rz_journal_t *j = NULL;
    assert_int_equal(rz_journal_open(&j, f->dir, SEG), 0);
    assert_int_equal(rz_journal_recover(j, f->store), applied);
    return j;
}

/* The CRC of the len-byte record at rec, written into its header. */
static void s_fix_crc(uint8_t *rec, size_t len)
{
    uint32_t crc = rz_journal_crc32c(0, rec + 12, len - 12);
    for (int i = 0; i < 4; i++)
        rec[8 + i] = (uint8_t)(crc >> (8 * i));
}

static void s_append(rz_journal_t *j, uint64_t first, size_t count,
                     uint64_t applied)
{
    size_t len;
    uint8_t *rec = s_record(first, count, 200, &len);
    assert_int_equal(rz_journal_append(j, rec, len, first + count - 1, applied),
                     0);
    free(rec);
}

/* n records of 40 events each from *seq on, none applied */
static void s_append_records(rz_journal_t *j, uint64_t *seq, int n)
{
    for (int i = 0; i < n; i++, *seq += 40) {
        size_t len;
        uint8_t *rec = s_record(*seq, 40, 200, &len);
        assert_int_equal(rz_journal_append(j, rec, len, *seq + 39, 0), 0);
        free(rec);
    }
}

static int s_segments(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/journal", dir);
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

static void
test_journal_recovery_applies_synced_records_past_the_head(void **state)
{
    fx_t *f = *state;
    rz_journal_t *j = s_open(f, 0);
    s_append(j, 1, 3, 0);
    s_append(j, 4, 2, 0);
    rz_journal_close(&j);

    /* the store has none of them: the journal gives back all five */
    j = s_open(f, 5);
    assert_int_equal(rz_store_head(f->store), 5);
    rz_journal_close(&j);

    /* again: nothing past the head */
    j = s_open(f, 0);
    rz_journal_close(&j);
    Ratusz__V1__VerifyResult vr = RATUSZ__V1__VERIFY_RESULT__INIT;
    assert_int_equal(rz_store_verify(f->store, 0, &vr), 0);
    assert_true(vr.ok);
    free(vr.reason);
    free(vr.invalid_reason);
}

static void test_journal_torn_tail_ends_the_recovery(void **state)
{
    fx_t *f = *state;
    rz_journal_t *j = s_open(f, 0);
    s_append(j, 1, 2, 0);
    s_append(j, 3, 2, 0);
    rz_journal_close(&j);

    /* the power went out while the second record was written: its last
     * byte is not there */
    size_t len;
    uint8_t *rec = s_record(1, 2, 200, &len);
    char path[512];
    snprintf(path, sizeof path, "%s/journal/00000001.seg", f->dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t zero = 0;
    size_t second;
    free(s_record(3, 2, 200, &second));
    size_t at = (len + RZ_JOURNAL_ALIGN - 1) & ~(size_t)(RZ_JOURNAL_ALIGN - 1);
    assert_int_equal(pwrite(fd, &zero, 1, (off_t)(at + second - 1)), 1);
    close(fd);
    free(rec);

    j = s_open(f, 2);
    assert_int_equal(rz_store_head(f->store), 2);
    rz_journal_close(&j);
}

static void test_journal_segments_are_written_again_once_applied(void **state)
{
    fx_t *f = *state;
    rz_journal_t *j = s_open(f, 0);
    /* records of about 10 KiB: six fill a segment; with everything
     * applied at once, two segments take turns */
    uint64_t seq = 1;
    for (int i = 0; i < 40; i++) {
        size_t len;
        uint8_t *rec = s_record(seq, 40, 200, &len);
        assert_int_equal(rz_journal_append(j, rec, len, seq + 39, seq - 1), 0);
        free(rec);
        seq += 40;
    }
    assert_true(s_segments(f->dir) <= 2);
    rz_journal_close(&j);
}

/* A fresh journal wants a second segment made ahead, and the writer goes
 * on in it when the first is full. Two take turns while LMDB keeps up;
 * when none of them is free, the writer makes one itself and wants the
 * next made ahead, and takes that one. */
static void test_journal_takes_the_segment_made_ahead(void **state)
{
    fx_t *f = *state;
    rz_journal_t *j = NULL;
    uint64_t seq = 1;
    j = s_open(f, 0);
    assert_int_equal(s_segments(f->dir), 1);
    assert_int_equal(rz_journal_prepare(j), 1);
    assert_int_equal(s_segments(f->dir), 2);
    assert_int_equal(rz_journal_prepare(j), 0); /* one is enough */

    /* records of about 11 KiB take 12 with their pages, and none is
     * applied: five fill a segment, the sixth goes into the one made
     * ahead */
    s_append_records(j, &seq, 6);
    assert_int_equal(s_segments(f->dir), 2);
    assert_int_equal(rz_journal_prepare(j), 0);
    /* the second full, the first not applied: the writer makes a third */
    s_append_records(j, &seq, 5);
    assert_int_equal(s_segments(f->dir), 3);
    assert_int_equal(rz_journal_prepare(j), 1);
    assert_int_equal(s_segments(f->dir), 4);
    /* the third full: the writer takes the fourth, made ahead */
    s_append_records(j, &seq, 5);
    assert_int_equal(s_segments(f->dir), 4);
    rz_journal_close(&j);

    j = s_open(f, (int)(seq - 1));
    assert_int_equal(rz_store_head(f->store), seq - 1);
    assert_int_equal(rz_journal_prepare(j), 0); /* four segments: enough */
    rz_journal_close(&j);
}

static void test_journal_record_parse_refuses_a_bad_crc(void **state)
{
    (void)state;
    size_t len;
    uint8_t *rec = s_record(7, 3, 50, &len);
    rz_journal_record_t r;
    assert_int_equal(rz_journal_record_parse(rec, len, &r), (int)len);
    assert_int_equal(r.first, 7);
    assert_int_equal(r.count, 3);
    assert_int_equal(rz_journal_record_parse(rec, len - 1, &r), RZ_EDECODE);
    rec[len - 1] ^= 1;
    assert_int_equal(rz_journal_record_parse(rec, len, &r), RZ_EDECODE);
    free(rec);
}

/* The check value of CRC-32C (RFC 3720 B.4 and every catalogue), and the
 * instruction path against the tables at every length and alignment. */
static void test_journal_crc32c_is_castagnoli_on_every_path(void **state)
{
    (void)state;
    assert_int_equal(rz_journal_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(rz__journal_crc32c_table(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    assert_int_equal(rz_journal_crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
    uint8_t buf[300];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 7) {
            uint32_t a = rz_journal_crc32c(0, buf + off, len);
            assert_int_equal(a, rz__journal_crc32c_table(0, buf + off, len));
            /* continuing a CRC over two pieces is the CRC of the whole */
            uint32_t h = rz_journal_crc32c(0, buf + off, len / 2);
            assert_int_equal(
                rz_journal_crc32c(h, buf + off + len / 2, len - len / 2), a);
        }
}

/* The writer's and the applier's view of their own record is the checked
 * one, event by event. */
static void test_journal_record_open_matches_parse(void **state)
{
    (void)state;
    size_t len;
    uint8_t *rec = s_record(11, 5, 70, &len);
    rz_journal_record_t a, b;
    assert_int_equal(rz_journal_record_parse(rec, len, &a), (int)len);
    assert_int_equal(rz_journal_record_open(rec, len, &b), 0);
    assert_int_equal(b.first, 11);
    assert_int_equal(b.count, 5);
    assert_int_equal(b.ingest_time, a.ingest_time);
    rz_store_entry_t ea, eb;
    size_t n = 0;
    while (rz_journal_record_next(&a, &ea)) {
        assert_int_equal(rz_journal_record_next(&b, &eb), 1);
        assert_int_equal(ea.seq, eb.seq);
        assert_int_equal(ea.stored_len, eb.stored_len);
        assert_ptr_equal(ea.stored, eb.stored);
        assert_ptr_equal(ea.topic, eb.topic);
        n++;
    }
    assert_int_equal(n, 5);
    assert_int_equal(rz_journal_record_next(&b, &eb), 0);
    assert_int_equal(rz_journal_record_open(rec, len - 1, &b), RZ_EDECODE);
    free(rec);
}

/* A producer's source, id and subject are inside its event's bytes:
 * the record holds their offsets there, not the bytes again; a topic
 * from elsewhere is copied. */
static void test_journal_keys_inside_the_event_are_not_copied(void **state)
{
    (void)state;
    static const uint8_t digest[RZ_STORE_DIGEST] = {2};
    uint8_t stored[64];
    memset(stored, 'x', sizeof stored);
    memcpy(stored + 3, "/src", 4);
    memcpy(stored + 10, "id-77", 5);
    memcpy(stored + 20, "parcel:9", 8);
    rz_store_entry_t e = {.seq = 9,
                          .time = 5,
                          .stored = stored,
                          .stored_len = sizeof stored,
                          .source = (const char *)stored + 3,
                          .source_len = 4,
                          .id = (const char *)stored + 10,
                          .id_len = 5,
                          .subject = (const char *)stored + 20,
                          .subject_len = 8,
                          .topic = "gmina.env.reading.v1",
                          .topic_len = 20,
                          .digest = digest};
    size_t size = rz_journal_event_size(&e);
    assert_int_equal(size, RZ_JOURNAL_EVENT + sizeof stored + 20);
    uint8_t rec[RZ_JOURNAL_HDR + RZ_JOURNAL_EVENT + sizeof stored + 20];
    assert_int_equal(rz_journal_record_encode(rec, &e, 1, 3), sizeof rec);

    rz_journal_record_t r;
    rz_store_entry_t x;
    assert_int_equal(rz_journal_record_parse(rec, sizeof rec, &r),
                     (int)sizeof rec);
    assert_int_equal(rz_journal_record_next(&r, &x), 1);
    assert_int_equal(x.seq, 9);
    assert_int_equal(x.stored_len, sizeof stored);
    assert_memory_equal(x.stored, stored, sizeof stored);
    assert_ptr_equal(x.source, (const char *)x.stored + 3);
    assert_ptr_equal(x.id, (const char *)x.stored + 10);
    assert_ptr_equal(x.subject, (const char *)x.stored + 20);
    assert_int_equal(x.subject_len, 8);
    assert_ptr_equal(x.topic, (const char *)x.stored + sizeof stored);
    assert_memory_equal(x.topic, "gmina.env.reading.v1", 20);
    assert_memory_equal(x.digest, digest, RZ_STORE_DIGEST);

    /* a key whose offset and length reach past the event's bytes: the
     * record is refused, even with its CRC right */
    rec[RZ_JOURNAL_HDR + 24] = sizeof stored + 20 - 3; /* source's offset */
    s_fix_crc(rec, sizeof rec);
    assert_int_equal(rz_journal_record_parse(rec, sizeof rec, &r), RZ_EDECODE);
}

/* Each record begins on a page of its own: the rest of the page the one
 * before ended in is not written, and recovery does not read it. */
static void test_journal_records_begin_on_pages_of_their_own(void **state)
{
    fx_t *f = *state;
    rz_journal_t *j = s_open(f, 0);
    s_append(j, 1, 2, 0);
    s_append(j, 3, 3, 0);
    s_append(j, 6, 1, 0);
    rz_journal_close(&j);

    size_t len;
    free(s_record(1, 2, 200, &len));
    assert_true(len < RZ_JOURNAL_ALIGN);
    char path[512];
    snprintf(path, sizeof path, "%s/journal/00000001.seg", f->dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t page[RZ_JOURNAL_ALIGN];
    assert_int_equal(pread(fd, page, sizeof page, 0), (ssize_t)sizeof page);
    for (size_t i = len; i < sizeof page; i++)
        assert_int_equal(page[i], 0); /* as the segment was made */
    char magic[4];
    assert_int_equal(pread(fd, magic, 4, RZ_JOURNAL_ALIGN), 4);
    assert_memory_equal(magic, "RZJ2", 4);
    assert_int_equal(pread(fd, magic, 4, 2 * RZ_JOURNAL_ALIGN), 4);
    assert_memory_equal(magic, "RZJ2", 4);
    /* what a recycled segment may hold there: recovery never looks */
    memset(page + len, 0xa5, sizeof page - len);
    assert_int_equal(pwrite(fd, page, sizeof page, 0), (ssize_t)sizeof page);
    close(fd);

    j = s_open(f, 6);
    assert_int_equal(rz_store_head(f->store), 6);
    rz_journal_close(&j);
}

/* A format-1 record (an older broker's): 44-byte fixed part, the keys
 * after the stored bytes, the next record right behind. */
static size_t s_record_1(uint8_t *out, uint64_t seq, const char *id)
{
    static const uint8_t stored[40] = {0x0a};
    uint8_t *p = out + 32;
    memset(p, 0, 44);
    p[8] = (uint8_t)seq; /* time */
    p[16] = sizeof stored;
    p[20] = 2;                   /* source "/j" */
    p[22] = (uint8_t)strlen(id); /* id */
    p[26] = 4;                   /* topic "t.v1" */
    p[28] = 1;                   /* digest */
    p += 44;
    memcpy(p, stored, sizeof stored);
    p += sizeof stored;
    memcpy(p, "/j", 2);
    p += 2;
    memcpy(p, id, strlen(id));
    p += strlen(id);
    memcpy(p, "t.v1", 4);
    p += 4;
    size_t len = (size_t)(p - out);
    memset(out, 0, 32);
    memcpy(out, "RZJ1", 4);
    out[4] = (uint8_t)len;
    out[5] = (uint8_t)(len >> 8);
    out[12] = 1;
    out[16] = (uint8_t)seq;
    s_fix_crc(out, len);
    return len;
}

static void test_journal_recovers_format_1_records(void **state)
{
    fx_t *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/journal", f->dir);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof path, "%s/journal/00000001.seg", f->dir);
    uint8_t *seg = calloc(1, SEG);
    assert_non_null(seg);
    size_t off = 0;
    off += s_record_1(seg + off, 1, "a");
    off += s_record_1(seg + off, 2, "bb");
    off += s_record_1(seg + off, 3, "ccc");
    int fd = open(path, O_RDWR | O_CREAT, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, seg, SEG), SEG);
    close(fd);
    free(seg);

    rz_journal_t *j = s_open(f, 3);
    assert_int_equal(rz_store_head(f->store), 3);
    assert_int_equal(rz_store_id_seq(f->store, "/j", "bb"), 2);
    assert_int_equal(rz_store_id_seq(f->store, "/j", "ccc"), 3);
    /* and the journal goes on in format 2 */
    s_append(j, 4, 2, 3);
    rz_journal_close(&j);
    j = s_open(f, 2);
    assert_int_equal(rz_store_head(f->store), 5);
    rz_journal_close(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_journal_recovery_applies_synced_records_past_the_head, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_torn_tail_ends_the_recovery, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_segments_are_written_again_once_applied, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(
            test_journal_takes_the_segment_made_ahead, s_setup, s_teardown),
        cmocka_unit_test(test_journal_record_parse_refuses_a_bad_crc),
        cmocka_unit_test(test_journal_crc32c_is_castagnoli_on_every_path),
        cmocka_unit_test(test_journal_record_open_matches_parse),
        cmocka_unit_test(test_journal_keys_inside_the_event_are_not_copied),
        cmocka_unit_test_setup_teardown(
            test_journal_records_begin_on_pages_of_their_own, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_recovers_format_1_records,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
