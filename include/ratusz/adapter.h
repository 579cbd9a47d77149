/* adapter.h - the contract between the adapter runtime and one system's
 * module.
 *
 * A module turns one legacy format into events. It knows nothing of
 * sockets, spools or folders: the runtime hands it whole inputs (a file
 * picked up from a drop folder, the lines appended to a tailed file, the
 * body of an HTTP POST, a file given on the command line) and the module
 * reports, for every record it finds in the input, exactly one of:
 *
 *   rz_out_event(out, &ref, ev)        the record, translated
 *   rz_out_quarantine(out, &ref, why)  the record, with the reason it could
 *                                      not be translated
 *
 * so that records read = events published + records quarantined. Nothing
 * is dropped: a record the module does not understand is quarantined with
 * its original bytes, never skipped.
 *
 * The runtime behind rz_out_t spools each event in the outbox before
 * rz_out_event returns (so the module may reuse its buffers), checks the
 * tenant against TERYT, publishes, and counts. Tests drive a module with
 * their own rz_out_t that collects what it reports.
 *
 * The runtime also lends the module, through rz_out_t, read access to the
 * TERYT TERC register it loaded (the adapter's `teryt:` files), so a module
 * that resolves unit names or codes uses the same register the runtime
 * checks tenants against, and loads no copy of its own.
 *
 * A module is a folder adapters/<name>/ with a CMakeLists.txt calling
 * rz_adapter_module(<name> SOURCES...) and defining
 *
 *     const rz_adapter_module_t rz_module_<name> = { ... };
 *
 * CMake builds the table of every module into ratusz-adapter. A module
 * includes this header and the public ones next to it (ratusz/...), never
 * the runtime's own headers (adapters/runtime/: runtime.h, store.h,
 * teryt.h), which are not on its include path.
 *
 * Names:
 *
 *   rz_adapter_*     the contract's functions and types: the module table,
 *                    ids, the register's units (this header)
 *   rz_out_*         reporting to the runtime (this header)
 *   rz_input_t, rz_record_ref_t
 *                    what the runtime hands in (this header)
 *   rz_module_<m>    module m's table, the one name a module exports
 *   rz__<m>_*        names shared between module m's own files
 *                    (rz__gis_open, rz__tax_emit, rz__budget_fold)
 *   rz_<m>_*_t       module m's types, RZ_<M>_* its constants
 *   s_*              file-static
 *
 * The runtime's internal names (rz_rt_*, rz_astore_*, rz_teryt_*...) are
 * declared in adapters/runtime/ only.
 *
 * Records are matched by their key when a quarantined one is retried: the
 * runtime ingests the record's whole input again with the configuration
 * of the moment and takes the record that reports the same key and line
 * for the quarantined one. So a record's key must name its place in the
 * input, the same whatever the configuration ("row 17", not "row 17 of
 * Kraków"), and records that do not depend on the configuration must come
 * out the same (same ids, same content) in every run.
 */
#ifndef RATUSZ_ADAPTER_H
#define RATUSZ_ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ratusz/conf.h"
#include "ratusz/ratusz.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a record came from: what an operator needs to find it again and
 * what the quarantine keeps. */
typedef struct rz_record_ref {
    uint64_t line;        /* first line of the record, 1-based (0: the input
                             is not line-based) */
    const char *key;      /* the record's place or identity in the input:
                             "row 17", "Pozycja[3]", "features[12]", a sensor
                             id and date; never NULL */
    const uint8_t *bytes; /* the record's original bytes, as in the input
                             (before any re-encoding); NULL = the whole
                             input */
    size_t len;
} rz_record_ref_t;

/* One input as the runtime hands it to a module. */
typedef struct rz_input {
    const char *origin;  /* "/srv/drop/budget/x.csv", "http POST /air",
                            "-" (stdin) */
    const char *name;    /* base name: "GUS_BDL_FINA_2416.csv" */
    const uint8_t *data; /* the bytes exactly as received */
    size_t len;
    const char *content_type; /* HTTP Content-Type, or NULL for files */
    /* Stable identity of the input's content: lowercase hex SHA-256 of
     * data. Event ids built from it do not change when the same export is
     * imported again. */
    const char *content_id;
    /* True for a tailed file: data is the complete lines appended since
     * the last call, and line numbers continue from first_line. */
    int partial;
    uint64_t first_line; /* line number of data's first line (1-based) */
    /* The input's own time, unix µs: a file's modification time; 0 when it
     * has none (HTTP bodies, tailed lines). Events whose record gives no
     * time get it, so importing the same file again gives the same events
     * (duplicates, not conflicts). */
    int64_t time;
} rz_input_t;

/* One unit of the TERYT TERC register (GUS), as the runtime lends it.
 * The strings are borrowed from the runtime's register, valid while the
 * module is open. */
typedef struct rz_adapter_unit {
    const char *code; /* 2 digits (voivodeship), 4 (powiat) or 7 (gmina:
                         WOJ POW GMI RODZ): "1261011" */
    const char *name; /* "Kraków" */
    const char *kind; /* "gmina miejska, miasto na prawach powiatu" */
    int tenant;       /* 0 for districts (RODZ 8) and delegations (9):
                         parts of a city's gmina, which is the tenant */
} rz_adapter_unit_t;

/* Where a module reports. */
typedef struct rz_out rz_out_t;
struct rz_out {
    /* ev is complete except for fields the runtime fills when empty:
     * source (the adapter's configured source) and time (now). ev->id
     * must be set and stable (see rz_adapter_id). Returns 0, or a
     * negative RZ_E* code when the runtime could not take the event (it
     * then quarantined the record itself with the reason, so the module
     * goes on with the next record). The runtime copies what it keeps. */
    int (*event)(rz_out_t *out, const rz_record_ref_t *ref,
                 const Ratusz__V1__Event *ev);
    /* reason: one line naming the problem, e.g. "column 'Wartosc': 'abc'
     * is not a number". Returns 0 or a negative RZ_E* code. */
    int (*quarantine)(rz_out_t *out, const rz_record_ref_t *ref,
                      const char *reason);
    void *user;
    /* The TERC register the runtime loaded, read-only: the unit with this
     * code, and the unit at index i in code order (for looking units up
     * by something else, e.g. a name), called with units. Each fills *u
     * and returns 0, or RZ_ENOTFOUND (no such unit, i past the end). NULL
     * when no register is configured: call them through rz_out_unit and
     * rz_out_unit_at, which say RZ_ENOTFOUND then too. */
    const void *units;
    int (*unit)(const void *units, const char *code, rz_adapter_unit_t *u);
    int (*unit_at)(const void *units, size_t i, rz_adapter_unit_t *u);
};

/* Ids, subjects and names come from the records themselves and may hold
 * control characters or be too long: an event the bus would refuse is not
 * reported, its record is quarantined here with the bus's own reason (and
 * RZ_EINVALEVENT returned, as when the runtime quarantines a record). The
 * runtime fills in the source and the tenant when the module leaves them
 * empty, and checks those itself. */
static inline int rz_out_event(rz_out_t *out, const rz_record_ref_t *ref,
                               const Ratusz__V1__Event *ev)
{
    Ratusz__V1__Event check = *ev;
    char why[256], reason[300];
    /* what the runtime fills in (and checks itself) stands in here */
    if (!check.source || !*check.source)
        check.source = (char *)"/0/module/source";
    if (!check.tenant || !*check.tenant)
        check.tenant = (char *)"02";
    if (rz_event_check(&check, why, sizeof why) != 0) {
        snprintf(reason, sizeof reason, "invalid event: %s", why);
        int rc = out->quarantine(out, ref, reason);
        return rc ? rc : RZ_EINVALEVENT;
    }
    return out->event(out, ref, ev);
}

static inline int rz_out_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                                    const char *reason)
{
    return out->quarantine(out, ref, reason);
}

/* 1 when the runtime lends a TERC register (the adapter has `teryt:`). */
static inline int rz_out_has_units(const rz_out_t *out)
{
    return out->unit_at != NULL;
}

static inline int rz_out_unit(rz_out_t *out, const char *code,
                              rz_adapter_unit_t *u)
{
    return out->unit ? out->unit(out->units, code, u) : RZ_ENOTFOUND;
}

static inline int rz_out_unit_at(rz_out_t *out, size_t i, rz_adapter_unit_t *u)
{
    return out->unit_at ? out->unit_at(out->units, i, u) : RZ_ENOTFOUND;
}

/* The module of one system. */
typedef struct rz_adapter_module {
    const char *name;        /* "budget": the folder, the YAML section */
    const char *description; /* one line for --help and `ratusz stats` */
    /* Options read from the YAML section named after the module, NULL
     * terminated (may be NULL for none), into a struct of conf_size bytes
     * that the runtime allocates, fills and frees. */
    const rz_conf_option_t *options;
    size_t conf_size;
    /* Set up per-adapter state from the filled options. Returns 0, or a
     * negative code with err. May be NULL. */
    int (*open)(void **state, const void *conf, char *err, size_t err_len);
    void (*close)(void *state);
    /* Translate one input: report each record to out exactly once. Returns
     * 0 when the input was read (even if every record was quarantined), or
     * a negative RZ_E* code with err when the input as a whole cannot be
     * read (unknown layout, not the expected format at all): the drop
     * folder then moves it to failed/ with err as the reason. */
    int (*parse)(void *state, const rz_input_t *in, rz_out_t *out, char *err,
                 size_t err_len);
    /* Optional sink (bus -> system): called for every event of the sink's
     * consumer group in seq order. Return 0 when handled; a negative code
     * stops the sink, which retries from the same event later. */
    int (*sink_open)(void **sink, void *state, const char *target, char *err,
                     size_t err_len);
    int (*sink_event)(void *sink, const Ratusz__V1__Event *ev, char *err,
                      size_t err_len);
    int (*sink_flush)(void *sink, char *err, size_t err_len);
    void (*sink_close)(void *sink);
} rz_adapter_module_t;

/* Write a stable event id into buf: "<system>:<content_id 16 hex>:<key>"
 * with key's bytes kept if printable, for records without an identity of
 * their own; modules whose records carry an identifier (a declaration
 * number, a sensor id + timestamp) build the id from that instead, so that
 * the same record in two different exports is one event. Returns the
 * length, or RZ_ETOOBIG when it does not fit in len (RZ_ID_MAX + 1). */
int rz_adapter_id(char *buf, size_t len, const char *system,
                  const char *content_id, const char *key);

#ifdef __cplusplus
}
#endif

#endif
