/* conf.h - configuration for Ratusz programs: one option table per program
 * drives the defaults, the YAML loader, the command-line flags, --help and
 * --print-config.
 *
 * A program declares its options once:
 *
 *     typedef struct my_conf { char *broker; uint64_t window; int mode;
 *                              rz_conf_map_t kafka; } my_conf_t;
 *     static const char *const modes[] = {"in", "out", NULL};
 *     static const rz_conf_option_t my_options[] = {
 *         {"broker", RZ_CONF_STRING, offsetof(my_conf_t, broker),
 *          "tcp://127.0.0.1:7600", NULL, 0, 0, "ENDPOINT", "broker front"},
 *         {"window", RZ_CONF_UINT, offsetof(my_conf_t, window), "1024",
 *          NULL, 1, 1000000, "N", "events in flight"},
 *         {"mode", RZ_CONF_ENUM, offsetof(my_conf_t, mode), "out", modes,
 *          0, 0, "in|out", "direction"},
 *         {"kafka", RZ_CONF_MAP, offsetof(my_conf_t, kafka), "", NULL, 0, 0,
 *          "KEY=VALUE", "librdkafka properties, passed through"},
 *         {0}
 *     };
 *
 * and gets, from the same table: rz_conf_init (defaults), rz_conf_load_file
 * (YAML; an unknown key is "FILE:LINE: unknown key 'x'"), rz_conf_set (a
 * flag: --window 64, or for a map --kafka acks=all), rz_conf_print and
 * rz_conf_usage. A failed load leaves the object as it was.
 *
 * YAML shapes: a scalar for STRING, SIZE, UINT, ENUM and BOOL; a mapping of
 * scalars for MAP (nested mappings inside it are flattened with dots:
 * "kafka: {security: {protocol: ssl}}" is "security.protocol"); a sequence
 * of scalars, or one scalar, for LIST; a mapping of name: mapping for
 * SECTIONS, for a file that names things and gives each its options:
 *
 *     principals:                {"principals", RZ_CONF_SECTIONS, ...}
 *       operator:                sections.s[0].name = "operator"
 *         read: [""]             sections.s[0].map: read, lists[0] = [""]
 *         admin: [stats]                            admin, lists[1] = [stats]
 *
 * Each section is read as a MAP whose entries may also be sequences of
 * scalars; rz_conf_apply_section then applies it to the table of its own
 * options, with messages naming FILE:LINE and "principals.operator.read".
 */
#ifndef RATUSZ_CONF_H
#define RATUSZ_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rz_conf_type {
    RZ_CONF_STRING, /* char *, malloc'd; choices (if any) restrict it */
    RZ_CONF_SIZE,   /* uint64_t bytes; K/M/G/T suffixes (powers of 1024) */
    RZ_CONF_UINT,   /* uint64_t */
    RZ_CONF_ENUM,   /* int: index into choices */
    RZ_CONF_BOOL,   /* int 0/1: true/false, yes/no, on/off, 1/0 */
    RZ_CONF_MAP,    /* rz_conf_map_t: string keys to string values */
    RZ_CONF_LIST,   /* rz_conf_list_t: strings */
    RZ_CONF_SECTIONS /* rz_conf_sections_t: named MAPs; only from a file */
} rz_conf_type_t;

/* A mapping kept as text, in file order, with the line each entry came
 * from (0 when set by a flag), so that a consumer that checks the entries
 * later (librdkafka, an adapter module) can still name FILE:LINE. */
typedef struct rz_conf_map {
    size_t n;
    char **keys;
    char **values;
    uint32_t *lines;
} rz_conf_map_t;

typedef struct rz_conf_list {
    size_t n;
    char **items;
} rz_conf_list_t;

/* One named section: its entries as a map, and for an entry that was a
 * YAML sequence, lists[i] = its items (map.values[i] then holds them
 * joined with ','); lists[i] is NULL for a scalar entry. */
typedef struct rz_conf_section {
    char *name;
    uint32_t line; /* of the name */
    rz_conf_map_t map;
    rz_conf_list_t **lists; /* map.n entries */
} rz_conf_section_t;

/* Named sections in file order. */
typedef struct rz_conf_sections {
    size_t n;
    rz_conf_section_t *s;
} rz_conf_sections_t;

typedef struct rz_conf_option {
    const char *name; /* YAML key; the flag is --name with '-' for '_' */
    rz_conf_type_t type;
    size_t offset;              /* of the field in the program's struct */
    const char *def;            /* default, as text ("" for empty MAP/LIST;
                                   a LIST default is comma-separated) */
    const char *const *choices; /* ENUM names / allowed STRING values, NULL
                                   terminated; NULL = any STRING */
    uint64_t min, max;          /* SIZE, UINT: inclusive bounds */
    const char *arg;            /* metavariable in --help */
    const char *desc;           /* one line, for --help and --print-config */
} rz_conf_option_t;

/* Tables end with an entry whose name is NULL. */

/* Fill obj's fields from the defaults; fields not in the table are left
 * as they are. Returns 0 or RZ_ENOMEM. A default that does not parse
 * aborts: it is the program's bug. */
int rz_conf_init(const rz_conf_option_t *opts, void *obj);

/* Free what rz_conf_init/load/set allocated in obj. Safe twice. */
void rz_conf_close(const rz_conf_option_t *opts, void *obj);

/* Load YAML (a mapping of option: value) over obj. name is used in
 * messages. Returns 0, or RZ_ECONFIG with err "NAME:LINE: ...", or
 * RZ_ENOMEM. On failure obj is unchanged. */
int rz_conf_load_string(const rz_conf_option_t *opts, void *obj,
                        const char *yaml, size_t len, const char *name,
                        char *err, size_t err_len);
int rz_conf_load_file(const rz_conf_option_t *opts, void *obj,
                      const char *path, char *err, size_t err_len);

/* Set one option by name ("data_dir" or "data-dir") from text, as a flag
 * does. A MAP takes "key=value" and adds or replaces that key; a LIST
 * takes one item per call, appended (a LIST set from YAML replaces). */
int rz_conf_set(const rz_conf_option_t *opts, void *obj, const char *name,
                const char *value, char *err, size_t err_len);

/* Apply a MAP's entries to another table, for a section whose options are
 * only known later (an adapter module's options under its name). Messages
 * are "FILE:LINE: section.key: ..." with file naming where the map was
 * loaded from (NULL: no FILE part). */
int rz_conf_apply_map(const rz_conf_option_t *opts, void *obj,
                      const rz_conf_map_t *map, const char *file,
                      const char *section, char *err, size_t err_len);

/* The same for one of a SECTIONS option's sections: a list entry replaces
 * a LIST option's items and is refused for other types; a scalar entry
 * adds one item to a LIST, as a flag does. prefix names the section in
 * messages ("principals.operator"). */
int rz_conf_apply_section(const rz_conf_option_t *opts, void *obj,
                          const rz_conf_section_t *section, const char *file,
                          const char *prefix, char *err, size_t err_len);

/* Check every option's value as the loader would (for structs filled by
 * hand). Returns 0 or RZ_ECONFIG with a message. */
int rz_conf_check(const rz_conf_option_t *opts, const void *obj, char *err,
                  size_t err_len);

/* Parse the command line: -c/--config FILE (loaded first, whatever its
 * place), --print-config, -h/--help and --OPTION VALUE / --OPTION=VALUE for
 * every option in the table. Arguments that are not options are left for
 * the caller: *first_arg is the index of the first one (argv is permuted
 * so that they come last). Returns 0, RZ_ECONFIG with err, or 1 when
 * --help or --print-config was given (*what is 'h' or 'p'; the caller
 * prints and exits). */
int rz_conf_args(const rz_conf_option_t *opts, void *obj, int argc,
                 char **argv, int *first_arg, int *what, char *err,
                 size_t err_len);

/* The effective configuration as YAML, each option with its description
 * as a comment; title is the first comment line. */
void rz_conf_print(const rz_conf_option_t *opts, const void *obj,
                   const char *title, FILE *out);

/* One line per option: "--name ARG  description (default: x)". */
void rz_conf_usage(const rz_conf_option_t *opts, FILE *out);

/* Look a key up in a map; NULL when absent. */
const char *rz_conf_map_get(const rz_conf_map_t *map, const char *key);

/* The line a map's key came from; 0 when absent or set by a flag. */
uint32_t rz_conf_map_line(const rz_conf_map_t *map, const char *key);

/* Parse a size with an optional K/M/G/T suffix. 0 or RZ_EINVAL. */
int rz_conf_parse_size(const char *text, uint64_t *out);

/* Parse a duration: a number and a unit s, m, h, d or w ("400d", "12h");
 * a bare number is seconds; at most 100 years. Returns 0 and *us, or
 * RZ_EINVAL. */
int rz_conf_parse_duration(const char *text, int64_t *us);

#ifdef __cplusplus
}
#endif

#endif
