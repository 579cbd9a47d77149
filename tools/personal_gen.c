/* personal_gen.c - the schema's marks as C tables: personal data, times.
 *
 *   personal_gen SCHEMA.desc OUT.c OUT.h
 *
 * SCHEMA.desc is a FileDescriptorSet (protoc --include_imports
 * --descriptor_set_out). protobuf-c keeps no custom options in the
 * descriptors it generates, so the build runs this program over the set and
 * compiles what it writes, one table per kind of mark:
 *
 *   rz_personal_msgs  every message with (ratusz.v1.personal) fields: its
 *                     full name, the numbers of those fields and its
 *                     (ratusz.v1.personal_unless) condition resolved to
 *                     numbers;
 *   rz_time_msgs      every message with (ratusz.v1.time) fields: its full
 *                     name, the numbers of those fields and each one's
 *                     TimeMark (rz__time_mark() looks one up).
 *
 * The options arrive as unknown fields of FieldOptions and MessageOptions,
 * since this program's descriptor.proto does not know options.proto:
 *
 *   FieldOptions   field 50601, varint        personal = true
 *   MessageOptions field 50602, length-delim  personal_unless = "F=VALUE"
 *   FieldOptions   field 50603, varint        time = TIME_INSTANT (1) or
 *                                             TIME_DATE (2)
 *
 * A condition that names no enum field of its message, or no value of that
 * enum, fails the build: a typo must not silently switch redaction off.
 * So does a time mark on a field that is not a 64-bit signed integer, or
 * with a value this program does not know.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"

#define S_OPT_PERSONAL 50601u
#define S_OPT_PERSONAL_UNLESS 50602u
#define S_OPT_TIME 50603u
#define S_TIME_MAX 2 /* TimeMark: TIME_INSTANT 1, TIME_DATE 2 */

typedef Google__Protobuf__FileDescriptorSet s_set_t;
typedef Google__Protobuf__FileDescriptorProto s_file_t;
typedef Google__Protobuf__DescriptorProto s_msg_t;
typedef Google__Protobuf__FieldDescriptorProto s_field_t;
typedef Google__Protobuf__EnumDescriptorProto s_enum_t;

static const char *s_prog = "personal_gen";

static _Noreturn void s_die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", s_prog);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(1);
}

/* ------------------------------------------------------------------------
 * Options as unknown fields
 */

/* A varint at p (n bytes) into *v; bytes used, 0 when malformed. */
static size_t s_varint(const uint8_t *p, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80))
            return i + 1;
    }
    return 0;
}

static const ProtobufCMessageUnknownField *s_unknown(const void *opts,
                                                     uint32_t tag)
{
    const ProtobufCMessage *m = opts;
    const ProtobufCMessageUnknownField *found = NULL;
    for (size_t i = 0; m && i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == tag)
            found = &m->unknown_fields[i]; /* the last one wins */
    return found;
}

static int s_field_personal(const s_field_t *f)
{
    const ProtobufCMessageUnknownField *u =
        s_unknown(f->options, S_OPT_PERSONAL);
    uint64_t v = 0;
    if (!u)
        return 0;
    if (u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT ||
        !s_varint(u->data, u->len, &v))
        s_die("field %s: (personal) is not a bool", f->name, "");
    return v != 0;
}

/* f's TimeMark, 0 when unmarked. */
static int s_field_time(const s_field_t *f)
{
    const ProtobufCMessageUnknownField *u = s_unknown(f->options, S_OPT_TIME);
    uint64_t v = 0;
    if (!u)
        return 0;
    if (u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT ||
        !s_varint(u->data, u->len, &v))
        s_die("field %s: (time) is not an enum value", f->name, "");
    if (v > S_TIME_MAX)
        s_die("field %s: (time) has a value this generator does not know%s",
              f->name, "");
    if (v &&
        f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64 &&
        f->type !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64 &&
        f->type !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64)
        s_die("field %s: (time) applies to int64 fields (unix µs)%s", f->name,
              "");
    return (int)v;
}

/* The personal_unless text of m, malloc'd, or NULL. protobuf-c keeps a
 * length-delimited unknown field with its length prefix. */
static char *s_msg_unless(const s_msg_t *m)
{
    const ProtobufCMessageUnknownField *u =
        s_unknown(m->options, S_OPT_PERSONAL_UNLESS);
    uint64_t n = 0;
    size_t used = 0;
    if (!u)
        return NULL;
    if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
        !(used = s_varint(u->data, u->len, &n)) || n != u->len - used)
        s_die("message %s: (personal_unless) is not a string", m->name, "");
    char *s = malloc(n + 1);
    if (!s)
        s_die("%s%s", strerror(ENOMEM), "");
    memcpy(s, u->data + used, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------
 * Finding enums by full name
 */

#define S_NAME_MAX 512

/* out = a "." b (just b when a is empty); a name too long stops the build
 * rather than match the wrong thing. */
static void s_join(char out[S_NAME_MAX], const char *a, const char *b)
{
    int n = snprintf(out, S_NAME_MAX, "%s%s%s", a, *a ? "." : "", b);
    if (n < 0 || n >= S_NAME_MAX)
        s_die("name too long: %s.%s", a, b);
}

static const s_enum_t *s_enum_in(const s_msg_t *m, const char *prefix,
                                 const char *want)
{
    char name[S_NAME_MAX];
    for (size_t i = 0; i < m->n_enum_type; i++) {
        s_join(name, prefix, m->enum_type[i]->name);
        if (strcmp(name, want) == 0)
            return m->enum_type[i];
    }
    for (size_t i = 0; i < m->n_nested_type; i++) {
        s_join(name, prefix, m->nested_type[i]->name);
        const s_enum_t *e = s_enum_in(m->nested_type[i], name, want);
        if (e)
            return e;
    }
    return NULL;
}

/* want is protoc's resolved type name, with a leading dot:
 * ".ratusz.v1.Party.Kind". */
static const s_enum_t *s_find_enum(const s_set_t *set, const char *want)
{
    if (!want || want[0] != '.')
        return NULL;
    char name[S_NAME_MAX], full[S_NAME_MAX];
    for (size_t f = 0; f < set->n_file; f++) {
        const s_file_t *fd = set->file[f];
        s_join(name, "", fd->package ? fd->package : "");
        for (size_t i = 0; i < fd->n_enum_type; i++) {
            s_join(full, name, fd->enum_type[i]->name);
            if (strcmp(full, want + 1) == 0)
                return fd->enum_type[i];
        }
        for (size_t i = 0; i < fd->n_message_type; i++) {
            s_join(full, name, fd->message_type[i]->name);
            const s_enum_t *e = s_enum_in(fd->message_type[i], full, want + 1);
            if (e)
                return e;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * The table
 */

typedef struct s_out {
    FILE *c;
    size_t n;  /* messages written to the personal table */
    size_t nt; /* ... to the time table */
    const s_set_t *set;
} s_out_t;

/* m's time marks, if any, as one row of the time table. */
static void s_message_times(s_out_t *o, const s_msg_t *m, const char *full)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_field; i++) {
        int t = s_field_time(m->field[i]);
        if (!t)
            continue;
        if (n++ == 0)
            fprintf(o->c, "static const rz_time_field_t s_times_%zu[] = {",
                    o->nt);
        fprintf(o->c, "%s{%d, %s}", n > 1 ? ", " : "", m->field[i]->number,
                t == 2 ? "RZ_TIME_DATE" : "RZ_TIME_INSTANT");
    }
    if (!n)
        return;
    fprintf(o->c,
            "};\nstatic const rz_time_msg_t s_tmsg_%zu = {\"%s\", "
            "s_times_%zu, %zu};\n\n",
            o->nt, full, o->nt, n);
    o->nt++;
}

/* One message (full name without the leading dot) and its nested ones. */
static void s_message(s_out_t *o, const s_msg_t *m, const char *full)
{
    size_t n = 0;
    s_message_times(o, m, full);
    for (size_t i = 0; i < m->n_field; i++) {
        const s_field_t *f = m->field[i];
        if (!s_field_personal(f))
            continue;
        if (f->type !=
                GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING &&
            f->type !=
                GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE)
            s_die("%s.%s: (personal) applies to string and message fields",
                  full, f->name);
        if (n++ == 0)
            fprintf(o->c, "static const uint32_t s_fields_%zu[] = {", o->n);
        fprintf(o->c, "%s%d", n > 1 ? ", " : "", f->number);
    }
    char *unless = s_msg_unless(m);
    if (unless && !n)
        s_die("%s: (personal_unless) on a message without personal fields",
              full, "");
    if (n) {
        int field = 0, value = 0;
        fprintf(o->c, "};\n");
        if (unless) {
            char *eq = strchr(unless, '=');
            if (!eq)
                s_die("%s: personal_unless \"%s\" is not FIELD=VALUE", full,
                      unless);
            *eq = '\0';
            const s_field_t *f = NULL;
            for (size_t i = 0; i < m->n_field && !f; i++)
                if (strcmp(m->field[i]->name, unless) == 0)
                    f = m->field[i];
            if (!f ||
                f->type !=
                    GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM)
                s_die("%s: personal_unless names %s, not an enum field of it",
                      full, unless);
            const s_enum_t *e = s_find_enum(o->set, f->type_name);
            const Google__Protobuf__EnumValueDescriptorProto *v = NULL;
            for (size_t i = 0; e && i < e->n_value && !v; i++)
                if (strcmp(e->value[i]->name, eq + 1) == 0)
                    v = e->value[i];
            if (!v)
                s_die("%s: personal_unless: %s is no value of that enum", full,
                      eq + 1);
            *eq = '=';
            field = f->number;
            value = v->number;
        }
        fprintf(o->c,
                "static const rz_personal_msg_t s_msg_%zu = {\n"
                "    \"%s\", s_fields_%zu, %zu, %d, %d, \"%s\"};\n\n",
                o->n, full, o->n, n, field, value, unless ? unless : "");
        o->n++;
    }
    free(unless);
    for (size_t i = 0; i < m->n_nested_type; i++) {
        char name[S_NAME_MAX];
        s_join(name, full, m->nested_type[i]->name);
        s_message(o, m->nested_type[i], name);
    }
}

static const char s_header[] =
    "/* personal.h - generated by tools/personal_gen.c from the schema's\n"
    " * marks, (ratusz.v1.personal) and (ratusz.v1.time)\n"
    " * (proto/ratusz/v1/options.proto). Do not edit: annotate the .proto\n"
    " * and rebuild. */\n"
    "#ifndef RATUSZ_V1_PERSONAL_H\n"
    "#define RATUSZ_V1_PERSONAL_H\n"
    "\n"
    "#include <stddef.h>\n"
    "#include <stdint.h>\n"
    "\n"
    "/* One message with personal fields. */\n"
    "typedef struct rz_personal_msg {\n"
    "    const char *name;       /* full name: \"ratusz.v1.Party\" */\n"
    "    const uint32_t *fields; /* numbers of its personal fields */\n"
    "    size_t n_fields;\n"
    "    /* personal_unless: the marks do not apply when enum field\n"
    "     * unless_field (0: no condition) holds unless_value */\n"
    "    uint32_t unless_field;\n"
    "    int32_t unless_value;\n"
    "    const char *unless; /* as written, for messages */\n"
    "} rz_personal_msg_t;\n"
    "\n"
    "extern const rz_personal_msg_t *const rz_personal_msgs[];\n"
    "extern const size_t rz_personal_n_msgs;\n"
    "\n"
    "/* How an int64 field holding unix microseconds is written for people\n"
    " * (TimeMark in options.proto). */\n"
    "typedef enum rz_time_kind {\n"
    "    RZ_TIME_NONE = 0,    /* not a time: an integer */\n"
    "    RZ_TIME_INSTANT = 1, /* RFC 3339, UTC */\n"
    "    RZ_TIME_DATE = 2     /* a day: its midnight in Europe/Warsaw */\n"
    "} rz_time_kind_t;\n"
    "\n"
    "typedef struct rz_time_field {\n"
    "    uint32_t field; /* field number */\n"
    "    rz_time_kind_t kind;\n"
    "} rz_time_field_t;\n"
    "\n"
    "/* One message with time fields. */\n"
    "typedef struct rz_time_msg {\n"
    "    const char *name; /* full name: \"ratusz.v1.TaxAssessment\" */\n"
    "    const rz_time_field_t *fields;\n"
    "    size_t n_fields;\n"
    "} rz_time_msg_t;\n"
    "\n"
    "extern const rz_time_msg_t *const rz__time_msgs[];\n"
    "extern const size_t rz__time_n_msgs;\n"
    "\n"
    "/* The mark of field number field of message msg (its full name, as\n"
    " * ProtobufCMessageDescriptor.name has it); RZ_TIME_NONE when none. */\n"
    "rz_time_kind_t rz__time_mark(const char *msg, uint32_t field);\n"
    "\n"
    "#endif\n";

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SCHEMA.desc OUT.c OUT.h\n", s_prog);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in)
        s_die("%s: %s", argv[1], strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, in)) > 0;) {
        len += got;
        if (len == cap && !(buf = realloc(buf, cap *= 2)))
            break;
    }
    if (!buf || ferror(in))
        s_die("%s: %s", argv[1], buf ? "read error" : strerror(ENOMEM));
    fclose(in);
    s_set_t *set =
        google__protobuf__file_descriptor_set__unpack(NULL, len, buf);
    free(buf);
    if (!set)
        s_die("%s: not a FileDescriptorSet%s", argv[1], "");

    s_out_t o = {NULL, 0, 0, set};
    if (!(o.c = fopen(argv[2], "w")))
        s_die("%s: %s", argv[2], strerror(errno));
    fprintf(o.c,
            "/* %s - generated by tools/personal_gen.c from the "
            "schema. Do not edit. */\n#include <string.h>\n\n"
            "#include \"ratusz/v1/personal.h\"\n\n",
            strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2]);
    for (size_t f = 0; f < set->n_file; f++) {
        const s_file_t *fd = set->file[f];
        for (size_t i = 0; i < fd->n_message_type; i++) {
            char name[S_NAME_MAX];
            s_join(name, fd->package ? fd->package : "",
                   fd->message_type[i]->name);
            s_message(&o, fd->message_type[i], name);
        }
    }
    fprintf(o.c, "const rz_personal_msg_t *const rz_personal_msgs[] = {");
    for (size_t i = 0; i < o.n; i++)
        fprintf(o.c, "%s&s_msg_%zu", i ? ", " : "", i);
    /* never an empty initializer, which C11 does not allow */
    fprintf(o.c, "%sNULL};\nconst size_t rz_personal_n_msgs = %zu;\n",
            o.n ? ", " : "", o.n);
    fprintf(o.c, "\nconst rz_time_msg_t *const rz__time_msgs[] = {");
    for (size_t i = 0; i < o.nt; i++)
        fprintf(o.c, "%s&s_tmsg_%zu", i ? ", " : "", i);
    fprintf(o.c,
            "%sNULL};\nconst size_t rz__time_n_msgs = %zu;\n\n"
            "rz_time_kind_t rz__time_mark(const char *msg, uint32_t field)\n"
            "{\n"
            "    for (size_t i = 0; msg && i < rz__time_n_msgs; i++) {\n"
            "        const rz_time_msg_t *m = rz__time_msgs[i];\n"
            "        if (strcmp(m->name, msg) != 0)\n"
            "            continue;\n"
            "        for (size_t k = 0; k < m->n_fields; k++)\n"
            "            if (m->fields[k].field == field)\n"
            "                return m->fields[k].kind;\n"
            "        break;\n"
            "    }\n"
            "    return RZ_TIME_NONE;\n"
            "}\n",
            o.nt ? ", " : "", o.nt);
    if (fclose(o.c) != 0)
        s_die("%s: %s", argv[2], strerror(errno));

    FILE *h = fopen(argv[3], "w");
    if (!h || fputs(s_header, h) == EOF || fclose(h) != 0)
        s_die("%s: %s", argv[3], strerror(errno));
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    return 0;
}
