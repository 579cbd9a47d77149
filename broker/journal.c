/* journal.c - the synced append journal in front of the LMDB store
 * (journal.h has the layout and the rules). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "journal.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ratusz/core/buf.h"
#include "ratusz/core/lmdb.h"

#define S_MAGIC "RZJ2"
#define S_MAGIC_1 "RZJ1" /* format 1, an older broker's: read, not written */
#define RZ_JOURNAL_EVENT_1 44 /* its fixed part of an event */
#define S_DIR "journal"
#define S_DIR_MODE 0750
#define S_FILE_MODE 0640
#define S_SEG_MIN (64 * 1024)
#define S_PAGE 4096 /* the zero-fill's write size: see s_make_seg */

typedef struct s_seg {
    int fd;
    unsigned no; /* NNNNNNNN.seg */
    size_t size;
    uint64_t last; /* the highest seq written into it; 0: none */
} s_seg_t;

struct rz_journal {
    char dir[4096];
    size_t seg_size;
    s_seg_t *segs;
    size_t n_segs, cap_segs;
    size_t cur_i;
    size_t off; /* where the next record goes in cur */
    int have_cur;
    atomic_uint next_no; /* a new segment's number */
    int broken;
    /* a segment made ahead by rz_journal_prepare, for the writer to take */
    pthread_mutex_t spare_mu;
    s_seg_t spare;
    int has_spare;
    atomic_int want_spare;
};

/* ------------------------------------------------------------------------
 * CRC-32C, slicing by 8 (tables built once; the journal is single-threaded
 * per broker, and the build is idempotent anyway)
 */

static uint32_t s_crc_table[8][256];
static int s_crc_ready;

static void s_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        s_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            s_crc_table[t][i] = (s_crc_table[t - 1][i] >> 8) ^
                                s_crc_table[0][s_crc_table[t - 1][i] & 0xff];
    s_crc_ready = 1;
}

static uint32_t s_crc32c_table(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!s_crc_ready)
        s_crc_init();
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = s_crc_table[7][lo & 0xff] ^ s_crc_table[6][(lo >> 8) & 0xff] ^
              s_crc_table[5][(lo >> 16) & 0xff] ^ s_crc_table[4][lo >> 24] ^
              s_crc_table[3][p[4]] ^ s_crc_table[2][p[5]] ^
              s_crc_table[1][p[6]] ^ s_crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ s_crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE 4.2's crc32 computes exactly CRC-32C, 8 bytes an instruction: about
 * ten times the tables' speed, and the writer checksums every record. */
__attribute__((target("sse4.2"))) static uint32_t
s_crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

uint32_t rz_journal_crc32c(uint32_t crc, const void *data, size_t len)
{
    static int hw = -1; /* the same answer for every thread: no race harm */
    if (hw < 0)
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return hw ? s_crc32c_hw(crc, data, len) : s_crc32c_table(crc, data, len);
}
#else
uint32_t rz_journal_crc32c(uint32_t crc, const void *data, size_t len)
{
    return s_crc32c_table(crc, data, len);
}
#endif

/* The software path, for the unit test that checks both give the same. */
uint32_t rz__journal_crc32c_table(uint32_t crc, const void *data, size_t len)
{
    return s_crc32c_table(crc, data, len);
}

/* ------------------------------------------------------------------------
 * Records
 */

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t s_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The bytes key k of e takes after the stored bytes: none when it is
 * inside them. */
static size_t s_extra(const rz_store_entry_t *e, const char *k, size_t len)
{
    return rzc_inside(e->stored, e->stored_len, k, len) ? 0 : len;
}

size_t rz_journal_event_size(const rz_store_entry_t *e)
{
    return RZ_JOURNAL_EVENT + e->stored_len +
           s_extra(e, e->source, e->source_len) + s_extra(e, e->id, e->id_len) +
           s_extra(e, e->subject, e->subject_len) +
           s_extra(e, e->topic, e->topic_len);
}

/* Bytes already in place (the writer builds stored bytes inside the
 * record) are left as they are. */
static uint8_t *s_put_bytes(uint8_t *p, const void *src, size_t len)
{
    if (len && p != src)
        memcpy(p, src, len);
    return p + len;
}

/* Key k of the event whose fixed part is at fixed and stored bytes at
 * stored (in the record): its offset and length, and its bytes at *extra
 * when they are not inside the stored ones. */
static void s_put_key(uint8_t *fixed, int k, const rz_store_entry_t *e,
                      const uint8_t *stored, const char *key, size_t len,
                      uint8_t **extra)
{
    size_t off;
    if (rzc_inside(e->stored, e->stored_len, key, len)) {
        off = (size_t)((uintptr_t)key - (uintptr_t)e->stored);
    } else {
        off = (size_t)(*extra - stored);
        *extra = s_put_bytes(*extra, key, len);
    }
    s_put32(fixed + 24 + 4 * k, (uint32_t)off);
    s_put16(fixed + 40 + 2 * k, (uint16_t)len);
}

size_t rz_journal_record_encode(uint8_t *out, const rz_store_entry_t *e,
                                size_t count, int64_t ingest_time)
{
    uint8_t *p = out + RZ_JOURNAL_HDR;
    for (size_t i = 0; i < count; i++) {
        const rz_store_entry_t *x = &e[i];
        uint8_t *fixed = p, *stored = p + RZ_JOURNAL_EVENT;
        uint8_t *extra = s_put_bytes(stored, x->stored, x->stored_len);
        s_put64(fixed, x->prev_topic_seq);
        s_put64(fixed + 8, (uint64_t)x->time);
        s_put32(fixed + 16, (uint32_t)x->stored_len);
        s_put_key(fixed, 0, x, stored, x->source, x->source_len, &extra);
        s_put_key(fixed, 1, x, stored, x->id, x->id_len, &extra);
        s_put_key(fixed, 2, x, stored, x->subject, x->subject_len, &extra);
        s_put_key(fixed, 3, x, stored, x->topic, x->topic_len, &extra);
        s_put32(fixed + 20, (uint32_t)(extra - stored - x->stored_len));
        memcpy(fixed + 48, x->digest, RZ_STORE_DIGEST);
        p = extra;
    }
    size_t len = (size_t)(p - out);
    memcpy(out, S_MAGIC, 4);
    s_put32(out + 4, (uint32_t)len);
    s_put32(out + 12, (uint32_t)count);
    s_put64(out + 16, count ? e[0].seq : 0);
    s_put64(out + 24, (uint64_t)ingest_time);
    s_put32(out + 8, rz_journal_crc32c(0, out + 12, len - 12));
    return len;
}

/* The size of the event at q in a record of the given format, from its
 * fixed part (which must be there); 0 when it would not fit in avail
 * bytes or its keys lie outside its bytes (format 2). */
static size_t s_event_size(int format, const uint8_t *q, size_t avail)
{
    if (format == 1) {
        uint64_t need = (uint64_t)RZ_JOURNAL_EVENT_1 + s_get32(q + 16) +
                        s_get16(q + 20) + s_get16(q + 22) + s_get16(q + 24) +
                        s_get16(q + 26);
        return need <= avail && s_get16(q + 26) ? (size_t)need : 0;
    }
    uint64_t body = (uint64_t)s_get32(q + 16) + s_get32(q + 20);
    if (body > avail - RZ_JOURNAL_EVENT || !s_get16(q + 46))
        return 0; /* too long, or no topic */
    for (int k = 0; k < 4; k++)
        if (s_get32(q + 24 + 4 * k) + (uint64_t)s_get16(q + 40 + 2 * k) > body)
            return 0;
    return RZ_JOURNAL_EVENT + (size_t)body;
}

/* The event at r->at into e, without checks; returns its size. */
static size_t s_event_at(const rz_journal_record_t *r, size_t at,
                         rz_store_entry_t *e)
{
    const uint8_t *p = r->p + at;
    e->prev_topic_seq = s_get64(p);
    e->time = (int64_t)s_get64(p + 8);
    e->stored_len = s_get32(p + 16);
    if (r->format == 1) {
        e->source_len = s_get16(p + 20);
        e->id_len = s_get16(p + 22);
        e->subject_len = s_get16(p + 24);
        e->topic_len = s_get16(p + 26);
        e->digest = p + 28;
        p += RZ_JOURNAL_EVENT_1;
        e->stored = p;
        p += e->stored_len;
        e->source = (const char *)p;
        p += e->source_len;
        e->id = (const char *)p;
        p += e->id_len;
        e->subject = (const char *)p;
        p += e->subject_len;
        e->topic = (const char *)p;
        return RZ_JOURNAL_EVENT_1 + e->stored_len + e->source_len + e->id_len +
               e->subject_len + e->topic_len;
    }
    const uint8_t *body = p + RZ_JOURNAL_EVENT;
    e->stored = body;
    e->source = (const char *)body + s_get32(p + 24);
    e->source_len = s_get16(p + 40);
    e->id = (const char *)body + s_get32(p + 28);
    e->id_len = s_get16(p + 42);
    e->subject = (const char *)body + s_get32(p + 32);
    e->subject_len = s_get16(p + 44);
    e->topic = (const char *)body + s_get32(p + 36);
    e->topic_len = s_get16(p + 46);
    e->digest = p + 48;
    return RZ_JOURNAL_EVENT + e->stored_len + s_get32(p + 20);
}

/* The format a record's magic names: 1, 2, or 0 (not a record). */
static int s_format(const uint8_t *p)
{
    if (!memcmp(p, S_MAGIC, 4))
        return 2;
    return !memcmp(p, S_MAGIC_1, 4) ? 1 : 0;
}

int rz_journal_record_open(const uint8_t *p, size_t len,
                           rz_journal_record_t *out)
{
    int format = len >= RZ_JOURNAL_HDR ? s_format(p) : 0;
    if (!format || s_get32(p + 4) != len)
        return RZ_EDECODE;
    *out = (rz_journal_record_t){.p = p,
                                 .len = len,
                                 .first = s_get64(p + 16),
                                 .count = s_get32(p + 12),
                                 .ingest_time = (int64_t)s_get64(p + 24),
                                 .format = format,
                                 .at = RZ_JOURNAL_HDR};
    return 0;
}

int rz_journal_record_parse(const uint8_t *p, size_t avail,
                            rz_journal_record_t *out)
{
    int format = avail >= RZ_JOURNAL_HDR ? s_format(p) : 0;
    if (!format)
        return RZ_EDECODE;
    size_t fixed = format == 1 ? RZ_JOURNAL_EVENT_1 : RZ_JOURNAL_EVENT;
    size_t len = s_get32(p + 4);
    uint32_t count = s_get32(p + 12);
    if (len < RZ_JOURNAL_HDR || len > avail || len > INT32_MAX || !count ||
        count > (len - RZ_JOURNAL_HDR) / fixed)
        return RZ_EDECODE;
    if (rz_journal_crc32c(0, p + 12, len - 12) != s_get32(p + 8))
        return RZ_EDECODE;
    uint64_t first = s_get64(p + 16);
    if (!first || first > UINT64_MAX - count)
        return RZ_EDECODE;
    rz_journal_record_t r = {.p = p,
                             .len = len,
                             .first = first,
                             .count = count,
                             .ingest_time = (int64_t)s_get64(p + 24),
                             .format = format,
                             .at = RZ_JOURNAL_HDR};
    /* every event's lengths must fit: next() then needs no checks */
    size_t at = RZ_JOURNAL_HDR;
    for (uint32_t i = 0; i < count; i++) {
        size_t size;
        if (len - at < fixed ||
            !(size = s_event_size(format, p + at, len - at)))
            return RZ_EDECODE;
        at += size;
    }
    if (at != len)
        return RZ_EDECODE;
    *out = r;
    return (int)len;
}

int rz_journal_record_next(rz_journal_record_t *r, rz_store_entry_t *e)
{
    if (r->i >= r->count)
        return 0;
    r->at += s_event_at(r, r->at, e);
    e->seq = r->first + r->i++;
    e->ends_link = r->i == r->count; /* a record is a group acked at once */
    return 1;
}

/* n up to a whole RZ_JOURNAL_ALIGN: where the next record begins */
static size_t s_page_up(size_t n)
{
    return (n + RZ_JOURNAL_ALIGN - 1) & ~(size_t)(RZ_JOURNAL_ALIGN - 1);
}

size_t rz_journal_record_span(const rz_journal_record_t *r)
{
    return r->format == 1 ? r->len : s_page_up(r->len);
}

/* ------------------------------------------------------------------------
 * Segments
 */

static void s_seg_path(const rz_journal_t *j, unsigned no, char *out,
                       size_t len)
{
    snprintf(out, len, "%s/%08u.seg", j->dir, no);
}

/* Whether name is NNNNNNNN.seg; its number into *no. */
static int s_seg_name(const char *name, unsigned *no)
{
    unsigned v = 0;
    if (strlen(name) != 12 || strcmp(name + 8, ".seg") != 0)
        return 0;
    for (int i = 0; i < 8; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(name[i] - '0');
    }
    *no = v;
    return 1;
}

static int s_add_seg(rz_journal_t *j, int fd, unsigned no, size_t size)
{
    if (j->n_segs == j->cap_segs) {
        size_t cap = j->cap_segs ? 2 * j->cap_segs : 8;
        s_seg_t *p = realloc(j->segs, cap * sizeof *p);
        if (!p)
            return RZ_ENOMEM;
        j->segs = p;
        j->cap_segs = cap;
    }
    j->segs[j->n_segs++] = (s_seg_t){fd, no, size, 0};
    if (no >= atomic_load(&j->next_no))
        atomic_store(&j->next_no, no + 1);
    return 0;
}

/* The size of a new segment: seg_size, less when the file system is short
 * of room (a small disk must still take events), and at least need. */
static size_t s_new_size(const rz_journal_t *j, size_t need)
{
    struct statvfs vf;
    size_t size = j->seg_size;
    if (statvfs(j->dir, &vf) == 0) {
        uint64_t avail = (uint64_t)vf.f_bavail * vf.f_frsize;
        if (avail / 8 < size)
            size = (size_t)(avail / 8);
    }
    size &= ~(size_t)4095;
    if (size < S_SEG_MIN)
        size = S_SEG_MIN;
    if (size < need)
        size = (need + 4095) & ~(size_t)4095;
    return size;
}

/* Drop a segment's (clean) pages from the page cache. The page cache
 * may hold a file in large folios, as large as the writes or reads that
 * brought it in (a whole-segment read): a record written into one then
 * dirties, and its fdatasync writes, the whole folio (measured: 1 MiB per
 * 600-byte record on ext4). Brought back by small writes, the pages come
 * back small; the first record into each page then waits for the page to
 * be read from the disk. */
static void s_small_pages(int fd)
{
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* Make a segment file of at least need bytes: zero-filled, synced, its
 * name synced in the directory, into *out. Any thread (its number is
 * taken atomically). Returns 0 or -errno.
 *
 * The zeros go in page by page, so that the page cache keeps the segment
 * in pages of 4 KiB: a record then dirties (and its fdatasync writes) only
 * the pages it touches, and finds them in memory. Dropped from the cache
 * instead (s_small_pages), every page a record begins in had to be read
 * back from the disk first: 39 us on average per append at window 1,
 * measured, against 2 for a cached page. */
static int s_create_seg(rz_journal_t *j, size_t need, s_seg_t *out)
{
    char path[4200];
    size_t size = s_new_size(j, need);
    unsigned no = atomic_fetch_add(&j->next_no, 1);
    s_seg_path(j, no, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_FILE_MODE);
    if (fd < 0)
        return -errno;
    static const uint8_t zero[S_PAGE];
    int rc = 0;
    for (size_t off = 0; off < size && !rc;) {
        size_t n = size - off < sizeof zero ? size - off : sizeof zero;
        ssize_t w = pwrite(fd, zero, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = w < 0 ? -errno : -EIO;
        else
            off += (size_t)w;
    }
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (!rc)
        rc = rzc_sync_dir(j->dir);
    if (rc) {
        close(fd);
        unlink(path);
        return rc;
    }
    *out = (s_seg_t){fd, no, size, 0};
    return 0;
}

/* Make a segment of at least need bytes and add it (the writer). Returns
 * its index, or a negative code. */
static int s_make_seg(rz_journal_t *j, size_t need)
{
    s_seg_t sg;
    int rc = s_create_seg(j, need, &sg);
    if (!rc && (rc = s_add_seg(j, sg.fd, sg.no, sg.size))) {
        char path[4200];
        s_seg_path(j, sg.no, path, sizeof path);
        close(sg.fd);
        unlink(path);
    }
    return rc ? rc : (int)(j->n_segs - 1);
}

int rz_journal_prepare(rz_journal_t *j)
{
    if (!j || !atomic_load(&j->want_spare))
        return 0;
    s_seg_t sg;
    int rc = s_create_seg(j, 0, &sg);
    if (rc)
        return rc; /* wanted still: the next call tries again */
    pthread_mutex_lock(&j->spare_mu);
    int had = j->has_spare;
    if (!had) {
        j->spare = sg;
        j->has_spare = 1;
    }
    atomic_store(&j->want_spare, 0);
    pthread_mutex_unlock(&j->spare_mu);
    if (had) /* not with one caller: the writer wants one only when none
                is kept. On disk it is a free segment for the next start. */
        close(sg.fd);
    return 1;
}

int rz_journal_open(rz_journal_t **out, const char *data_dir, size_t seg_size)
{
    rz_journal_t *j = NULL;
    DIR *d = NULL;
    int rc;

    if (!out || !data_dir)
        return RZ_EINVAL;
    *out = NULL;
    j = calloc(1, sizeof *j);
    if (!j)
        return RZ_ENOMEM;
    j->seg_size = seg_size < S_SEG_MIN ? S_SEG_MIN : seg_size;
    atomic_init(&j->next_no, 1);
    atomic_init(&j->want_spare, 0);
    pthread_mutex_init(&j->spare_mu, NULL);
    if ((size_t)snprintf(j->dir, sizeof j->dir, "%s/%s", data_dir, S_DIR) >=
        sizeof j->dir) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    if ((rc = rzc_mkdirs(j->dir, S_DIR_MODE)))
        goto fail;
    d = opendir(j->dir);
    if (!d) {
        rc = -errno;
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned no;
        if (!s_seg_name(de->d_name, &no))
            continue;
        char path[4200];
        s_seg_path(j, no, path, sizeof path);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            rc = -errno;
            if (fd >= 0)
                close(fd);
            goto fail;
        }
        if ((rc = s_add_seg(j, fd, no, (size_t)st.st_size))) {
            close(fd);
            goto fail;
        }
    }
    closedir(d);
    d = NULL;
    *out = j;
    return 0;
fail:
    if (d)
        closedir(d);
    rz_journal_close(&j);
    return rc;
}

void rz_journal_close(rz_journal_t **jp)
{
    if (!jp || !*jp)
        return;
    rz_journal_t *j = *jp;
    *jp = NULL;
    for (size_t i = 0; i < j->n_segs; i++)
        close(j->segs[i].fd);
    if (j->has_spare)
        close(j->spare.fd); /* on disk, a free segment for the next start */
    pthread_mutex_destroy(&j->spare_mu);
    free(j->segs);
    free(j);
}

int rz_journal_broken(const rz_journal_t *j)
{
    return j && j->broken;
}

/* ------------------------------------------------------------------------
 * Recovery
 */

typedef struct s_found {
    uint64_t first, last;
    size_t seg, off, len;
} s_found_t;

static int s_found_cmp(const void *a, const void *b)
{
    const s_found_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Read a whole segment into memory. */
static uint8_t *s_read_seg(const s_seg_t *sg)
{
    uint8_t *buf = malloc(sg->size ? sg->size : 1);
    size_t got = 0;
    while (buf && got < sg->size) {
        ssize_t r = pread(sg->fd, buf + got, sg->size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (buf && got < sg->size)
        memset(buf + got, 0, sg->size - got);
    return buf;
}

int rz_journal_recover(rz_journal_t *j, rz_store_t *store)
{
    s_found_t *found = NULL;
    size_t n_found = 0, cap_found = 0;
    uint8_t **bufs = NULL;
    rz_store_entry_t *entries = NULL;
    size_t cap_entries = 0;
    int rc = 0, applied = 0;

    if (!j || !store)
        return RZ_EINVAL;
    bufs = calloc(j->n_segs ? j->n_segs : 1, sizeof *bufs);
    if (!bufs)
        return RZ_ENOMEM;
    for (size_t i = 0; i < j->n_segs; i++) {
        bufs[i] = s_read_seg(&j->segs[i]);
        if (!bufs[i]) {
            rc = RZ_ENOMEM;
            goto out;
        }
        uint64_t next = 0;
        size_t off = 0;
        rz_journal_record_t r;
        int len;
        while ((len = rz_journal_record_parse(bufs[i] + off,
                                              j->segs[i].size - off, &r)) > 0 &&
               (!next || r.first == next)) {
            if (n_found == cap_found) {
                size_t cap = cap_found ? 2 * cap_found : 64;
                s_found_t *p = realloc(found, cap * sizeof *p);
                if (!p) {
                    rc = RZ_ENOMEM;
                    goto out;
                }
                found = p;
                cap_found = cap;
            }
            next = r.first + r.count;
            found[n_found++] =
                (s_found_t){r.first, next - 1, i, off, (size_t)len};
            j->segs[i].last = next - 1;
            off += rz_journal_record_span(&r);
            if (off > j->segs[i].size)
                break; /* the last record filled its segment */
        }
    }
    if (n_found)
        qsort(found, n_found, sizeof *found, s_found_cmp);

    uint64_t head = rz_store_head(store);
    for (size_t k = 0; k < n_found; k++) {
        s_found_t *f = &found[k];
        if (f->last <= head || f->first > head + 1)
            continue; /* applied, or past a gap: not ours */
        rz_journal_record_t r;
        if (rz_journal_record_parse(bufs[f->seg] + f->off, f->len, &r) < 0) {
            rc = RZ_ESTORE;
            goto out;
        }
        if (r.count > cap_entries) {
            rz_store_entry_t *p = realloc(entries, r.count * sizeof *p);
            if (!p) {
                rc = RZ_ENOMEM;
                goto out;
            }
            entries = p;
            cap_entries = r.count;
        }
        size_t n = 0;
        while (rz_journal_record_next(&r, &entries[n]))
            n++;
        if ((rc = rz_store_apply(store, entries, n)) < 0) {
            rz_error("journal: cannot apply seqs %" PRIu64 "-%" PRIu64
                     " to the store: %s",
                     f->first, f->last, rz_strerror(rc));
            goto out;
        }
        applied += (int)(f->last - head);
        head = f->last;
    }
    if (applied)
        rz_info("journal: %d acked events applied to the store from %s "
                "(head now %" PRIu64 ")",
                applied, j->dir, head);
    /* everything the segments hold is in the store now */
    for (size_t i = 0; i < j->n_segs; i++) {
        j->segs[i].last = 0;
        s_small_pages(j->segs[i].fd); /* read whole above */
    }
    /* the first segment is made now rather than by the first publish,
     * which would wait for it; without room, the first append tries again */
    if (!j->n_segs)
        (void)s_make_seg(j, 0);
    /* with a single segment, the writer needs a new one when it is full:
     * rz_journal_prepare makes it ahead */
    if (j->n_segs < 2)
        atomic_store(&j->want_spare, 1);
    rc = applied;
out:
    for (size_t i = 0; bufs && i < j->n_segs; i++)
        free(bufs[i]);
    free(bufs);
    free(found);
    free(entries);
    return rc;
}

/* ------------------------------------------------------------------------
 * Append
 */

/* A segment to write a record of len bytes into from its start: a free
 * one (all of it applied) big enough, else a new one. */
static int s_next_seg(rz_journal_t *j, size_t len, uint64_t applied)
{
    for (size_t i = 0; i < j->n_segs; i++)
        if ((!j->have_cur || i != j->cur_i) && j->segs[i].last <= applied &&
            j->segs[i].size >= len)
            return (int)i;
    /* none free: the one made ahead, else one made now (the acks wait
     * for its zero-fill). Two segments take turns while LMDB keeps up;
     * none free among two or more means it is behind by a segment, and
     * the next switch may find none free either: another is wanted. */
    pthread_mutex_lock(&j->spare_mu);
    s_seg_t sg = j->spare;
    int take = j->has_spare && sg.size >= len;
    if (take)
        j->has_spare = 0;
    if (j->n_segs >= 2 && !j->has_spare) /* kept: one too small for len */
        atomic_store(&j->want_spare, 1);
    pthread_mutex_unlock(&j->spare_mu);
    if (take) {
        int rc = s_add_seg(j, sg.fd, sg.no, sg.size);
        if (rc) { /* no room in the list: give it back */
            pthread_mutex_lock(&j->spare_mu);
            j->spare = sg;
            j->has_spare = 1;
            pthread_mutex_unlock(&j->spare_mu);
            return rc;
        }
        return (int)(j->n_segs - 1);
    }
    return s_make_seg(j, len);
}

int rz_journal_append(rz_journal_t *j, const uint8_t *rec, size_t len,
                      uint64_t last_seq, uint64_t applied)
{
    if (!j || !rec || !len)
        return RZ_EINVAL;
    if (j->broken)
        return RZ_ESTORE;
    if (!j->have_cur || j->segs[j->cur_i].size - j->off < len) {
        int i = s_next_seg(j, len, applied);
        if (i < 0) {
            rz_error("journal: cannot make a segment of %zu bytes in %s: %s",
                     s_new_size(j, len), j->dir, strerror(-i));
            return i == -ENOSPC || i == -EDQUOT || i == -EIO ? RZ_EDISKFULL
                                                             : RZ_ESTORE;
        }
        j->cur_i = (size_t)i;
        j->have_cur = 1;
        j->off = 0;
    }
    s_seg_t *sg = &j->segs[j->cur_i];
    size_t done = 0;
    while (done < len) {
        ssize_t w =
            pwrite(sg->fd, rec + done, len - done, (off_t)(j->off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rz_error("journal: write to segment %08u failed: %s", sg->no,
                     w < 0 ? strerror(errno) : "short write");
            j->broken = 1;
            return RZ_ESTORE;
        }
        done += (size_t)w;
    }
    if (fdatasync(sg->fd) < 0) {
        rz_error("journal: fdatasync of segment %08u failed: %s", sg->no,
                 strerror(errno));
        j->broken = 1;
        return RZ_ESTORE;
    }
    /* the next record begins on a page of its own (journal.h) */
    j->off += s_page_up(len);
    if (j->off > sg->size)
        j->off = sg->size;
    sg->last = last_seq;
    return 0;
}
