/* redact.c - personal data out of events, for readers without clearance.
 *
 * The marks come from the schema through a generated table
 * (ratusz/v1/personal.h, written by tools/personal_gen.c). On first use
 * the table is joined to protobuf-c's descriptors, starting at Event: each
 * message type reachable from it gets its table entry, if any, and
 * whether personal fields lie anywhere below it. rz_redact_needed answers
 * from that and a wire scan; rz_redact_event decodes, walks, replaces,
 * and encodes again.
 */
#include "ratusz/core/lmdb.h"
#include "redact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ratusz/errors.h"
#include "ratusz/wire.h"
#include "ratusz/v1/event.pb-c.h"
#include "ratusz/v1/personal.h"

#define S_KINDS_MAX 64    /* message types reachable from Event */
#define S_EVENT_FIELDS 64 /* Event field numbers the wire scan knows */
#define S_ONEOFS_MAX 4

/* ==========================================================================
 * The schema's marks, joined to protobuf-c's descriptors
 */

typedef struct s_kind {
    const ProtobufCMessageDescriptor *d;
    const rz_personal_msg_t *t;             /* its marks, or NULL */
    const ProtobufCFieldDescriptor *unless; /* t's condition field */
    int reach; /* personal fields in it or below (or a cycle: assume so) */
    int state; /* 0 new, 1 being computed, 2 done */
} s_kind_t;

static struct {
    pthread_once_t once;
    s_kind_t kinds[S_KINDS_MAX];
    size_t n;
    int broken; /* too many types: redact everything we cannot rule out */
    /* Event's fields by number: 1 when that field may hold personal data;
     * oneof: which oneof the field is in (1-based), 0 none */
    uint8_t field_need[S_EVENT_FIELDS];
    uint8_t field_oneof[S_EVENT_FIELDS];
    int event_self; /* Event itself has marks */
} s_schema = {.once = PTHREAD_ONCE_INIT};

static s_kind_t *s_kind_of(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < s_schema.n; i++)
        if (s_schema.kinds[i].d == d)
            return &s_schema.kinds[i];
    return NULL;
}

static const rz_personal_msg_t *s_marks_of(const char *name)
{
    for (size_t i = 0; i < rz_personal_n_msgs; i++)
        if (strcmp(rz_personal_msgs[i]->name, name) == 0)
            return rz_personal_msgs[i];
    return NULL;
}

static int s_marked(const rz_personal_msg_t *t, uint32_t id)
{
    for (size_t i = 0; t && i < t->n_fields; i++)
        if (t->fields[i] == id)
            return 1;
    return 0;
}

/* Register d and everything below it; returns its kind or NULL when the
 * fixed table is full. */
static s_kind_t *s_learn(const ProtobufCMessageDescriptor *d)
{
    s_kind_t *k = s_kind_of(d);
    if (k)
        return k;
    if (s_schema.n == S_KINDS_MAX) {
        s_schema.broken = 1;
        return NULL;
    }
    k = &s_schema.kinds[s_schema.n++];
    k->d = d;
    k->t = s_marks_of(d->name);
    if (k->t && k->t->unless_field)
        k->unless =
            protobuf_c_message_descriptor_get_field(d, k->t->unless_field);
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            s_learn(d->fields[i].descriptor);
    return k;
}

static int s_reach(s_kind_t *k)
{
    if (!k || k->state == 1)
        return 1; /* unknown, or a cycle still being looked at */
    if (k->state == 2)
        return k->reach;
    k->state = 1;
    int r = k->t && k->t->n_fields > 0;
    for (unsigned i = 0; i < k->d->n_fields && !r; i++)
        if (k->d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            r = s_reach(s_kind_of(k->d->fields[i].descriptor));
    k->reach = r;
    k->state = 2;
    return r;
}

static void s_schema_init(void)
{
    const ProtobufCMessageDescriptor *ev = &ratusz__v1__event__descriptor;
    s_kind_t *top = s_learn(ev);
    for (size_t i = 0; i < s_schema.n; i++)
        s_reach(&s_schema.kinds[i]);
    s_schema.event_self = !top || (top->t && top->t->n_fields > 0);

    /* oneofs told apart by the offset of their case member */
    unsigned oneof_at[S_ONEOFS_MAX];
    size_t n_oneofs = 0;
    for (unsigned i = 0; i < ev->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &ev->fields[i];
        if (f->id >= S_EVENT_FIELDS) {
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                s_schema.broken = 1; /* the scan cannot track it */
            continue;
        }
        s_schema.field_need[f->id] = f->type == PROTOBUF_C_TYPE_MESSAGE &&
                                     s_reach(s_kind_of(f->descriptor));
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        size_t o = 0;
        while (o < n_oneofs && oneof_at[o] != f->quantifier_offset)
            o++;
        if (o == n_oneofs) {
            if (n_oneofs == S_ONEOFS_MAX) {
                s_schema.broken = 1;
                continue;
            }
            oneof_at[n_oneofs++] = f->quantifier_offset;
        }
        s_schema.field_oneof[f->id] = (uint8_t)(o + 1);
    }
}

static void s_schema_get(void)
{
    pthread_once(&s_schema.once, s_schema_init);
}

/* ==========================================================================
 * Key
 */

static int s_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void s_hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int s_key_id(rz_redact_key_t *k)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(k->key, sizeof k->key, md, &n, EVP_sha256(), NULL))
        return -1;
    s_hex(md, 8, k->id);
    return 0;
}

/* A new secret at path. It is written and synced under a name of its own
 * (path.new.PID) and then linked to path: a power cut never leaves an
 * empty or partial key at path (which would keep the broker from starting
 * ever after), and link, like O_EXCL, fails when path exists, so of two
 * brokers starting at once the loser reads the winner's. A power cut
 * before the link leaves path.new.PID behind, a secret nothing used.
 * 0, -EEXIST when path exists, or -errno. */
static int s_key_create(const char *path, char *why, size_t why_len)
{
    uint8_t key[32];
    char text[66], tmp[4096];
    int rc = 0, fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid()) >=
        (int)sizeof tmp) {
        snprintf(why, why_len, "path too long");
        return -ENAMETOOLONG;
    }
    for (size_t got = 0; got < sizeof key;) {
        ssize_t r = getrandom(key + got, sizeof key - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(why, why_len, "getrandom: %s", strerror(errno));
            goto fail;
        }
        got += (size_t)r;
    }
    s_hex(key, sizeof key, text);
    text[64] = '\n';
    unlink(tmp); /* left by a crash of an earlier process with this pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot create it beside: %s", strerror(errno));
        goto fail;
    }
    if (write(fd, text, 65) != 65 || fsync(fd) != 0) {
        rc = errno ? -errno : -EIO;
        snprintf(why, why_len, "cannot write: %s", strerror(-rc));
        unlink(tmp);
        goto fail;
    }
    rc = link(tmp, path) == 0 ? 0 : -errno;
    unlink(tmp);
    if (rc == -EEXIST)
        goto fail;
    if (rc) {
        snprintf(why, why_len, "cannot create: %s", strerror(-rc));
        goto fail;
    }
    /* pseudonyms made with a key that a power cut then takes away would
     * never match again */
    if ((rc = rzc_sync_parent(path)) != 0) {
        snprintf(why, why_len, "cannot sync its directory: %s", strerror(-rc));
        goto fail;
    }
fail:
    if (fd >= 0)
        close(fd);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

/* Read and check an existing key file. 0, -ENOENT, or -EINVAL with why. */
static int s_key_read(const char *path, rz_redact_key_t *out, char *why,
                      size_t why_len)
{
    char text[80];
    ssize_t n = 0;
    int rc = -EINVAL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return -ENOENT;
        snprintf(why, why_len, "cannot open: %s", strerror(errno));
        return -EINVAL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "not a regular file");
        goto fail;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(why, why_len,
                 "mode %04o: group or others may use it (chmod 600)",
                 (unsigned)(st.st_mode & 07777));
        goto fail;
    }
    for (ssize_t r; n < (ssize_t)sizeof text; n += r) {
        r = read(fd, text + n, sizeof text - (size_t)n);
        if (r < 0 && errno == EINTR) {
            r = 0;
            continue;
        }
        if (r < 0) {
            snprintf(why, why_len, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
    }
    /* 64 hex digits, then at most a line end */
    ssize_t end = n;
    while (end > 64 && (text[end - 1] == '\n' || text[end - 1] == '\r'))
        end--;
    if (end != 64) {
        snprintf(why, why_len, "not 64 hex digits and a newline");
        goto fail;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = s_hexval((unsigned char)text[2 * i]);
        int lo = s_hexval((unsigned char)text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(why, why_len, "not 64 hex digits and a newline");
            goto fail;
        }
        out->key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (s_key_id(out) != 0) {
        snprintf(why, why_len, "SHA-256 failed");
        goto fail;
    }
    rc = 0;
fail:
    close(fd);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

int rz_redact_key_load(const char *path, int create, rz_redact_key_t *out,
                       char *err, size_t err_len)
{
    char why[160] = "";
    memset(out, 0, sizeof *out);
    int rc = s_key_read(path, out, why, sizeof why);
    if (rc == -ENOENT && create) {
        rc = s_key_create(path, why, sizeof why);
        if (rc == 0 || rc == -EEXIST)
            rc = s_key_read(path, out, why, sizeof why);
    }
    if (rc == -ENOENT)
        snprintf(why, sizeof why, "no such file");
    if (rc == 0)
        return 0;
    OPENSSL_cleanse(out, sizeof *out);
    if (err && err_len)
        snprintf(err, err_len, "redaction key %s: %s", path, why);
    return RZ_ECONFIG;
}

/* ==========================================================================
 * Pseudonyms
 */

void rz_redact_pseudonym(const rz_redact_key_t *k, const char *value, size_t n,
                         char out[28])
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (!HMAC(EVP_sha256(), k->key, (int)sizeof k->key,
              (const unsigned char *)(value ? value : ""), n, md, &md_len))
        memset(md, 0, sizeof md); /* no pseudonym at all beats the value */
    /* 26 letters of 5 bits: the first 130 of the MAC's 256 bits */
    out[0] = '~';
    for (int i = 0; i < 26; i++) {
        int bit = 5 * i, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)md[byte] << 8 | md[byte + 1];
        out[1 + i] = b32[(v >> (11 - shift)) & 31];
    }
    out[27] = '\0';
}

/* ==========================================================================
 * Is there anything to redact? (wire scan)
 */

/*
 * An Event on the wire is a sequence of fields, each a varint key
 * (number << 3 | wire type) and a value; a stored event is the producer's
 * fields followed by the broker's stamp (20-22):
 *
 *   key 0x6a | len | TaxAssessment ...   field 13 (tax), length-delimited
 *   key 0xa0 0x01 | varint               field 20 (seq)
 *
 * When a oneof's members appear several times, the last one is the
 * value, as in protobuf's own decoding.
 */
int rz_redact_needed(const uint8_t *ev, size_t len)
{
    s_schema_get();
    if (s_schema.broken || s_schema.event_self)
        return 1;
    uint32_t last[S_ONEOFS_MAX + 1] = {0}; /* per oneof, its last member */
    int other = 0; /* a non-oneof field that may hold personal data */
    rz_wire_t w;
    rz_wire_field_t f;
    int rc;
    rz_wire_init(&w, ev, len);
    while ((rc = rz_wire_next(&w, &f)) == 1) {
        uint32_t id = f.number;
        if (id >= S_EVENT_FIELDS)
            continue;
        if (s_schema.field_oneof[id])
            last[s_schema.field_oneof[id]] = (uint32_t)id;
        else if (s_schema.field_need[id])
            other = 1;
    }
    if (rc < 0)
        return 1; /* malformed: let the decoder refuse it */
    for (size_t o = 1; o <= S_ONEOFS_MAX; o++)
        if (last[o] && s_schema.field_need[last[o]])
            return 1;
    return other;
}

/* ==========================================================================
 * Redaction
 */

typedef struct s_walk {
    const rz_redact_key_t *k;
    rz_arena_t *a;
    int replaced;
    rz_redact_value_fn fn; /* rz_redact_each: told each value, no change */
    void *user;
} s_walk_t;

/* Replace the string *s when it is not empty (or tell w->fn about it);
 * 0, RZ_ENOMEM, or what w->fn returned. */
static int s_replace(s_walk_t *w, char **s)
{
    if (!*s || !**s)
        return 0;
    if (w->fn)
        return w->fn(*s, strlen(*s), w->user);
    char *p = rz_arena_alloc(w->a, 28);
    if (!p)
        return RZ_ENOMEM;
    rz_redact_pseudonym(w->k, *s, strlen(*s), p);
    *s = p;
    w->replaced++;
    return 0;
}

/* Whether the oneof member f is the one set in m. */
static int s_present(const ProtobufCMessage *m,
                     const ProtobufCFieldDescriptor *f)
{
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return 1;
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
}

/* Whether the marks of k apply to m: not when its personal_unless enum
 * field holds the exempting value. */
static int s_marks_apply(const s_kind_t *k, const ProtobufCMessage *m)
{
    if (!k->t)
        return 0;
    const ProtobufCFieldDescriptor *u = k->unless;
    if (!k->t->unless_field)
        return 1;
    if (!u || u->type != PROTOBUF_C_TYPE_ENUM ||
        u->label == PROTOBUF_C_LABEL_REPEATED || !s_present(m, u))
        return 1; /* no condition we can read: keep the marks */
    if (u->label == PROTOBUF_C_LABEL_OPTIONAL && u->quantifier_offset &&
        !(u->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        !*(const protobuf_c_boolean *)((const char *)m + u->quantifier_offset))
        return 1;
    int v = *(const int *)((const char *)m + u->offset);
    return v != k->t->unless_value;
}

/* Redact m in place; all marks below a personal message field apply
 * (all = 1). 0 or RZ_ENOMEM. */
static int s_walk(s_walk_t *w, ProtobufCMessage *m, int all)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    s_kind_t *k = s_kind_of(d);
    if (!all && k && !k->reach)
        return 0;
    int marks = all || (k && s_marks_apply(k, m));
    int rc = 0;
    for (unsigned i = 0; i < d->n_fields && !rc; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        int personal = marks && (all || s_marked(k->t, f->id));
        char *at = (char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_STRING &&
            f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING && !personal)
            continue;
        if (!s_present(m, f))
            continue;
        size_t n = 1;
        void **v = (void **)at;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(size_t *)((char *)m + f->quantifier_offset);
            v = *(void ***)at;
        }
        for (size_t j = 0; j < n && v && !rc; j++) {
            if (f->type == PROTOBUF_C_TYPE_STRING)
                rc = s_replace(w, (char **)&v[j]);
            else if (v[j])
                rc = s_walk(w, v[j], personal);
        }
    }
    return rc;
}

int rz_redact_event(const rz_redact_key_t *k, const uint8_t *ev, size_t len,
                    rz_arena_t *a, const uint8_t **out, size_t *out_len)
{
    enum { TAG_SIZE = sizeof "hmac-sha256:" - 1 + sizeof k->id };
    s_schema_get();
    *out = NULL;
    *out_len = 0;
    /* Unpacking merges repeated occurrences as protobuf does, so the
     * broker's stamp after the producer's bytes wins, and packing again
     * writes each field once: nothing of the original survives. */
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(&a->pb, len, ev);
    if (!e)
        return RZ_EDECODE; /* or out of memory: either way, withhold */
    s_walk_t w = {k, a, 0, NULL, NULL};
    int rc = s_walk(&w, &e->base, 0);
    if (rc)
        return rc;
    if (!w.replaced) {
        *out = ev;
        *out_len = len;
        return 0;
    }
    char *tag = rz_arena_alloc(a, TAG_SIZE);
    if (!tag)
        return RZ_ENOMEM;
    snprintf(tag, TAG_SIZE, "hmac-sha256:%s", k->id);
    e->redaction = tag;
    size_t n = ratusz__v1__event__get_packed_size(e);
    uint8_t *buf = rz_arena_alloc(a, n ? n : 1);
    if (!buf)
        return RZ_ENOMEM;
    size_t packed = ratusz__v1__event__pack(e, buf);
    /* protobuf-c keeps unknown fields it should have refused (an overlong
     * key 0, for one) and writes them back in a form it then refuses: a
     * reader must never get bytes that do not decode, so check them */
    if (!ratusz__v1__event__unpack(&a->pb, packed, buf)) {
        *out = NULL;
        return RZ_EDECODE;
    }
    *out_len = packed;
    *out = buf;
    return 1;
}

int rz_redact_each(const uint8_t *ev, size_t len, rz_arena_t *a,
                   rz_redact_value_fn fn, void *user)
{
    s_schema_get();
    Ratusz__V1__Event *e = ratusz__v1__event__unpack(&a->pb, len, ev);
    if (!e)
        return RZ_EDECODE;
    s_walk_t w = {NULL, a, 0, fn, user};
    return s_walk(&w, &e->base, 0);
}

/* ==========================================================================
 * Pseudonyms as index keys
 */

void rz_redact_pseudonym_raw(const rz_redact_key_t *k, const char *value,
                             size_t n, uint8_t out[RZ_PSEUDONYM_RAW])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (!HMAC(EVP_sha256(), k->key, (int)sizeof k->key,
              (const unsigned char *)(value ? value : ""), n, md, &md_len))
        memset(md, 0, sizeof md); /* as rz_redact_pseudonym */
    /* the 130 bits the 26 letters show, the rest of the last byte zero */
    memcpy(out, md, 16);
    out[16] = md[16] & 0xc0;
    OPENSSL_cleanse(md, sizeof md);
}

int rz_redact_pseudonym_parse(const char *text, uint8_t out[RZ_PSEUDONYM_RAW],
                              char *why, size_t why_len)
{
    size_t n = text ? strlen(text) : 0;
    memset(out, 0, RZ_PSEUDONYM_RAW);
    if (n != 27 || text[0] != '~') {
        snprintf(why, why_len,
                 "a pseudonym is '~' and 26 letters a-z, 2-7 (got %zu "
                 "characters%s)",
                 n, n && text[0] != '~' ? ", not starting with '~'" : "");
        return RZ_EINVAL;
    }
    for (int i = 0; i < 26; i++) {
        int c = (unsigned char)text[1 + i], v;
        if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else {
            snprintf(why, why_len,
                     "a pseudonym is '~' and 26 letters a-z, 2-7 (character "
                     "%d is not one)",
                     i + 2);
            memset(out, 0, RZ_PSEUDONYM_RAW);
            return RZ_EINVAL;
        }
        /* 5 bits at bit 5i, most significant first */
        for (int b = 0; b < 5; b++)
            if (v & (16 >> b)) {
                int bit = 5 * i + b;
                out[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
            }
    }
    return 0;
}
