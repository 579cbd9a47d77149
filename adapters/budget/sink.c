/* sink.c - BudgetEntry events into the finance system's import file.
 *
 * The target is one semicolon CSV, Windows-1250 (or UTF-8) with decimal
 * commas and CRLF, in the long shape the fk reader takes back:
 *
 *   rok;okres;teryt;jednostka;dzial;rozdzial;paragraf;strona;etap;kwota;
 *   waluta;zadanie;opis;sprawozdanie
 *
 * Exactly once across crashes. Next to the target, "<target>.pos" holds
 * "<seq> <size>": the last event written and the file's size after it,
 * replaced atomically after the rows are on disk. On open the target is cut
 * back to that size (rows from a flush that did not finish are written
 * again when the events are delivered again) and events up to that seq
 * are skipped (delivered again because the group's position was not
 * committed yet).
 *
 *   flush: write rows -> fsync target -> write .pos.tmp, fsync, rename,
 *          fsync dir -> (the runtime commits the consumer group)
 */
#include "budget.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct s_sink {
    char *path, *pos, *pos_tmp, *dir;
    int fd;
    int cp1250;
    uint64_t seq;  /* last event on disk */
    uint64_t size; /* the target's size after it */
    uint64_t pending_seq;
    char *buf; /* rows not yet written, UTF-8 */
    size_t len, cap;
    uint64_t written, skipped, unmappable;
} s_sink_t;

static const char *const s_side_word[] = {"", "dochody", "wydatki", "przychody",
                                          "rozchody"};
static const char *const s_stage_word[] = {"", "plan", "plan po zmianach",
                                           "wykonanie", "zaangażowanie"};

static int s_put(s_sink_t *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return RZ_ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

/* A text field, always quoted (libcsv doubles the quotes inside). */
static int s_text(s_sink_t *s, const char *v, int last)
{
    size_t n = strlen(v ? v : "");
    size_t need = csv_write(NULL, 0, v ? v : "", n);
    char stack[512], *q = need <= sizeof stack ? stack : malloc(need);
    if (!q)
        return RZ_ENOMEM;
    csv_write(q, need, v ? v : "", n);
    int rc = s_put(s, q, need);
    if (q != stack)
        free(q);
    if (rc == 0)
        rc = last ? s_put(s, "\r\n", 2) : s_put(s, ";", 1);
    return rc;
}

/* A code or number, unquoted. */
static int s_plain(s_sink_t *s, const char *v)
{
    int rc = s_put(s, v, strlen(v));
    return rc ? rc : s_put(s, ";", 1);
}

static int s_header(s_sink_t *s)
{
    for (int c = 0; c < RZ_BUDGET_SINK_COLUMNS; c++) {
        const char *n = rz__budget_col_names[c];
        int rc = s_put(s, n, strlen(n));
        if (rc == 0)
            rc = s_put(s, c + 1 < RZ_BUDGET_SINK_COLUMNS ? ";" : "\r\n",
                       c + 1 < RZ_BUDGET_SINK_COLUMNS ? 1 : 2);
        if (rc)
            return rc;
    }
    return 0;
}

/* "12345,67", "-0,05": grosze as a decimal-comma amount. */
static void s_amount(int64_t g, char *out, size_t len)
{
    uint64_t a = g < 0 ? (uint64_t)0 - (uint64_t)g : (uint64_t)g;
    snprintf(out, len, "%s%" PRIu64 ",%02" PRIu64, g < 0 ? "-" : "", a / 100,
             a % 100);
}

static int s_read_pos(s_sink_t *s, int *have, char *err, size_t err_len)
{
    FILE *f = fopen(s->pos, "r");
    *have = 0;
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_len, "%s: %s", s->pos, strerror(errno));
        return RZ_EIO;
    }
    int n = fscanf(f, "%" SCNu64 " %" SCNu64, &s->seq, &s->size);
    fclose(f);
    if (n != 2) {
        snprintf(err, err_len, "%s: not '<seq> <size>'", s->pos);
        return RZ_EIO;
    }
    *have = 1;
    return 0;
}

void rz__budget_sink_close(void *sink)
{
    s_sink_t *s = sink;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s->pos);
    free(s->pos_tmp);
    free(s->dir);
    free(s->buf);
    free(s);
}

int rz__budget_sink_open(void **sink, void *state, const char *target,
                         char *err, size_t err_len)
{
    rz_budget_state_t *st = state;
    if (!target || !*target) {
        snprintf(err, err_len, "budget sink: no target file");
        return RZ_EINVAL;
    }
    s_sink_t *s = calloc(1, sizeof *s);
    if (!s)
        return RZ_ENOMEM;
    s->fd = -1;
    s->cp1250 = st->sink_encoding == RZ_BUDGET_ENC_CP1250;
    s->path = strdup(target);
    s->pos = rz__budget_printf("%s.pos", target);
    s->pos_tmp = rz__budget_printf("%s.pos.tmp", target);
    char *d = strdup(target);
    s->dir = d ? strdup(dirname(d)) : NULL;
    free(d);
    if (!s->path || !s->pos || !s->pos_tmp || !s->dir) {
        rz__budget_sink_close(s);
        return RZ_ENOMEM;
    }
    int have, rc = s_read_pos(s, &have, err, err_len);
    if (rc)
        goto fail;
    s->fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct stat sb;
    if (s->fd < 0 || fstat(s->fd, &sb)) {
        snprintf(err, err_len, "%s: %s", target, strerror(errno));
        rc = RZ_EIO;
        goto fail;
    }
    if (!have && sb.st_size > 0) {
        snprintf(err, err_len,
                 "%s: the file exists but has no %s: it was "
                 "not written by this sink (move it away or start it anew)",
                 target, s->pos);
        rc = RZ_EINVAL;
        goto fail;
    }
    if ((uint64_t)sb.st_size < s->size) {
        snprintf(err, err_len,
                 "%s: %lld bytes, but %s records %" PRIu64
                 ": the file was changed outside the sink",
                 target, (long long)sb.st_size, s->pos, s->size);
        rc = RZ_EINVAL;
        goto fail;
    }
    if ((uint64_t)sb.st_size > s->size &&
        ftruncate(s->fd, (off_t)s->size) != 0) {
        snprintf(err, err_len, "%s: truncate: %s", target, strerror(errno));
        rc = RZ_EIO;
        goto fail;
    }
    s->pending_seq = s->seq;
    if (s->size == 0 && (rc = s_header(s)))
        goto fail;
    *sink = s;
    return 0;
fail:
    rz__budget_sink_close(s);
    return rc;
}

int rz__budget_sink_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                          size_t err_len)
{
    s_sink_t *s = sink;
    if (ev->seq && ev->seq <= s->seq)
        return 0; /* on disk before a restart */
    if (ev->seq > s->pending_seq)
        s->pending_seq = ev->seq;
    if (ev->data_case != RATUSZ__V1__EVENT__DATA_BUDGET || !ev->budget) {
        s->skipped++; /* votes and other events have no row here */
        return 0;
    }
    const Ratusz__V1__BudgetEntry *b = ev->budget;
    char year[16] = "", amount[32];
    if (b->fiscal_year)
        snprintf(year, sizeof year, "%d", (int)b->fiscal_year);
    s_amount(b->amount_grosze, amount, sizeof amount);
    size_t mark = s->len;
    unsigned side = (unsigned)b->side < 5 ? (unsigned)b->side : 0;
    unsigned stage = (unsigned)b->stage < 5 ? (unsigned)b->stage : 0;
    int rc = 0;
    rc = rc ? rc : s_plain(s, year);
    rc = rc ? rc : s_text(s, b->period, 0);
    rc = rc ? rc : s_plain(s, ev->tenant ? ev->tenant : "");
    rc = rc ? rc : s_text(s, b->unit, 0);
    rc = rc ? rc : s_plain(s, b->dzial ? b->dzial : "");
    rc = rc ? rc : s_plain(s, b->rozdzial ? b->rozdzial : "");
    rc = rc ? rc : s_plain(s, b->paragraf ? b->paragraf : "");
    rc = rc ? rc : s_text(s, s_side_word[side], 0);
    rc = rc ? rc : s_text(s, s_stage_word[stage], 0);
    rc = rc ? rc : s_plain(s, amount);
    rc = rc ? rc
            : s_text(s, b->currency && *b->currency ? b->currency : "PLN", 0);
    rc = rc ? rc : s_text(s, b->task, 0);
    rc = rc ? rc : s_text(s, b->description, 0);
    rc = rc ? rc : s_text(s, b->report, 1);
    if (rc) {
        s->len = mark;
        snprintf(err, err_len, "budget sink: out of memory");
    }
    return rc;
}

static int s_write_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

int rz__budget_sink_flush(void *sink, char *err, size_t err_len)
{
    s_sink_t *s = sink;
    if (s->len == 0 && s->pending_seq == s->seq)
        return 0;
    const char *data = s->buf;
    size_t n = s->len;
    char *conv = NULL;
    if (s->cp1250 && n) {
        if (!(conv = rzc_cp1250_encode(s->buf, s->len, &n, &s->unmappable))) {
            snprintf(err, err_len, "budget sink: out of memory");
            return RZ_ENOMEM;
        }
        data = conv;
    }
    int rc = 0;
    if ((n && s_write_all(s->fd, data, n, s->size)) || fsync(s->fd)) {
        snprintf(err, err_len, "%s: %s", s->path, strerror(errno));
        free(conv);
        return RZ_EIO;
    }
    free(conv);
    FILE *f = fopen(s->pos_tmp, "w");
    if (!f ||
        fprintf(f, "%" PRIu64 " %" PRIu64 "\n", s->pending_seq, s->size + n) <
            0 ||
        fflush(f) || fsync(fileno(f))) {
        snprintf(err, err_len, "%s: %s", s->pos_tmp, strerror(errno));
        if (f)
            fclose(f);
        return RZ_EIO;
    }
    fclose(f);
    if (rename(s->pos_tmp, s->pos)) {
        snprintf(err, err_len, "%s: rename: %s", s->pos, strerror(errno));
        return RZ_EIO;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd))
            rc = RZ_EIO;
        close(dfd);
    }
    if (rc) {
        snprintf(err, err_len, "%s: fsync: %s", s->dir, strerror(errno));
        return rc;
    }
    s->size += n;
    s->seq = s->pending_seq;
    s->written++;
    s->len = 0;
    return 0;
}
