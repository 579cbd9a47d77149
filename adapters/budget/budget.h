/* budget.h - the budget module's internals: options, the shared text and
 * CSV reading helpers, and one parse function per input format.
 *
 * Formats (each a file of its own):
 *   bdl.c      GUS Bank Danych Lokalnych CSV exports (relational layout)
 *   pabulib.c  participatory budget files (META / PROJECTS / VOTES)
 *   rb.c       Ministry of Finance Rb-27S / Rb-28S XML reports
 *   fk.c       a finance system's semicolon CSV (header driven), also the
 *              shape the sink writes
 *   sink.c     events -> the finance system's import CSV
 *   unit.c     unit names and BDL unit codes -> TERC tenants
 *
 * text.c holds what they share: periods, TERYT codes, ids (encodings,
 * amounts and dates in Poland are ratusz/core); csvread.c splits a
 * decoded text into rows with libcsv and keeps each row's line and
 * original bytes for the quarantine.
 */
#ifndef RZ_BUDGET_H
#define RZ_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/adapter.h"
#include "ratusz/core/text.h"
#include "ratusz/core/time.h"

/* ---------------------------------------------------------------------------
 * Options (the "budget:" section of the adapter's YAML)
 */

enum {
    RZ_BUDGET_FORMAT_AUTO,
    RZ_BUDGET_FORMAT_BDL,
    RZ_BUDGET_FORMAT_PABULIB,
    RZ_BUDGET_FORMAT_RB,
    RZ_BUDGET_FORMAT_FK
};
enum {
    RZ_BUDGET_ENC_AUTO = RZC_ENC_AUTO,
    RZ_BUDGET_ENC_UTF8 = RZC_ENC_UTF8,
    RZ_BUDGET_ENC_CP1250 = RZC_ENC_CP1250
};
enum { RZ_BUDGET_SIDE_AUTO, RZ_BUDGET_SIDE_INCOME, RZ_BUDGET_SIDE_EXPENDITURE };

typedef struct rz_budget_conf {
    int format;                 /* RZ_BUDGET_FORMAT_* */
    int encoding;               /* RZ_BUDGET_ENC_*: of CSV inputs */
    char *tenant;               /* TERC for inputs that carry none */
    rz_conf_map_t tenant_names; /* unit name -> TERC (Pabulib "unit") */
    uint64_t year;              /* fiscal year for fk files without "rok" */
    int side; /* RZ_BUDGET_SIDE_*: fk files without "strona" */
    rz_conf_map_t columns;      /* fk: canonical column -> header name */
    char *system;               /* fk: the finance system's name in sources */
    char *source;               /* overrides every source when set */
    int sink_encoding;          /* RZ_BUDGET_ENC_UTF8 or RZ_BUDGET_ENC_CP1250 */
} rz_budget_conf_t;

extern const rz_conf_option_t rz__budget_options[];

/* The fk format's canonical columns, in the order the sink writes them
 * (the amount columns plan..zaangazowanie are read, never written). */
enum {
    RZ_BUDGET_COL_ROK,
    RZ_BUDGET_COL_OKRES,
    RZ_BUDGET_COL_TERYT,
    RZ_BUDGET_COL_JEDNOSTKA,
    RZ_BUDGET_COL_DZIAL,
    RZ_BUDGET_COL_ROZDZIAL,
    RZ_BUDGET_COL_PARAGRAF,
    RZ_BUDGET_COL_STRONA,
    RZ_BUDGET_COL_ETAP,
    RZ_BUDGET_COL_KWOTA,
    RZ_BUDGET_COL_WALUTA,
    RZ_BUDGET_COL_ZADANIE,
    RZ_BUDGET_COL_OPIS,
    RZ_BUDGET_COL_SPRAWOZDANIE,
    RZ_BUDGET_COL_PLAN,
    RZ_BUDGET_COL_PLAN_PO_ZMIANACH,
    RZ_BUDGET_COL_WYKONANIE,
    RZ_BUDGET_COL_ZAANGAZOWANIE,
    RZ_BUDGET_COL_COUNT
};
#define RZ_BUDGET_SINK_COLUMNS (RZ_BUDGET_COL_SPRAWOZDANIE + 1)
extern const char *const rz__budget_col_names[RZ_BUDGET_COL_COUNT];

/* Per-adapter state: the options, copied. */
typedef struct rz_budget_state {
    int format, encoding, side, sink_encoding;
    uint64_t year;
    char *tenant, *system, *source;
    size_t n_names;
    char **name_keys, **name_codes;  /* tenant_names, normalised keys */
    char *col_header[RZ_BUDGET_COL_COUNT]; /* columns: header name or NULL */
} rz_budget_state_t;

/* ---------------------------------------------------------------------------
 * Text (text.c)
 */

/* An input decoded to UTF-8, field by field (ratusz/core/text.h). */
typedef rzc_text_t rz_budget_text_t;

/* A non-negative decimal integer, all digits; -1 if not. */
int rz__budget_uint(const char *s, int64_t max, int64_t *out);

/* The end of a period ("2023", "2023-Q4", "2023-09") as unix µs: midnight
 * in Warsaw at the start of the next one. 0 when period is not one of
 * those shapes. */
int64_t rz__budget_period_end_us(const char *period);

/* TERC tenant of a 7-digit code WWPPGGR (TERYT or GUS BDL "Kod"): WW for
 * a voivodeship (PPGGR zero), WWPP for a powiat, WWPPGGR for a gmina.
 * Returns 0 or -1. */
int rz__budget_tenant_from_code(const char *code, char out[8]);

/* 1 if a cell means "no value" in one of the usual spellings: empty,
 * "-", "None" (Python's, in real Pabulib files), "NULL", "null", "NaN"
 * (any case, surrounding spaces ignored). Where a value may be missing the
 * readers take such a cell as absent; where one is required the record is
 * quarantined saying the value is missing. */
int rz__budget_is_missing(const char *s);

/* 1 if s is a TERC code (2, 4 or 7 digits). */
int rz__budget_is_terc(const char *s);

/* Lowercase ASCII with Polish letters folded ("Wartość" -> "wartosc"),
 * '_' as ' ', spaces trimmed and collapsed: how header names and enum
 * words are compared. Writes at most len-1 bytes. */
void rz__budget_fold(const char *s, char *out, size_t len);

/* rz__budget_fold, then every run of other than [a-z0-9] as one '-': for ids.
 */
void rz__budget_slug(const char *s, char *out, size_t len);

/* A set of strings, to find a record identity seen twice in one input
 * (the broker would take the second as a duplicate of the first and keep
 * neither's difference). Hand-written because hsearch_r cannot grow. */
typedef struct rz_budget_set {
    char **slot;
    size_t cap, n;
} rz_budget_set_t;

/* 1 if key was already in the set, 0 if added now, RZ_ENOMEM. */
int rz__budget_set_add(rz_budget_set_t *s, const char *key);
int rz__budget_set_has(const rz_budget_set_t *s, const char *key);
void rz__budget_set_free(rz_budget_set_t *s);

/* snprintf into a malloc'd string; NULL on ENOMEM. */
char *rz__budget_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------------------
 * Units (unit.c)
 */

/* The TERC of a unit name: budget.tenant_names, else the one gmina of
 * that name in the TERC register the runtime lends through out. Returns
 * 0, or -1 with why saying why the name resolves to no tenant (unknown,
 * shared by several gminy, no register configured). */
int rz__budget_unit_by_name(const rz_budget_state_t *st, rz_out_t *out,
                            const char *name, char code[8], char *why,
                            size_t why_len);

/* The tenant of a GUS BDL unit code, 7 digits (WWPPGGR) or 12 (the BDL
 * form, unit.c draws it). Returns 0, or -1 with *why (a static phrase
 * completing "code '...' ") for POLSKA, the NUTS statistical regions and
 * anything that is no unit code. */
int rz__budget_tenant_from_bdl(const char *code, char out[8], const char **why);

/* ---------------------------------------------------------------------------
 * Events (text.c)
 */

/* One event under construction. Strings are borrowed (the row's fields)
 * or owned (rz__budget_ev_own); rz__budget_ev_reset frees the owned ones. */
typedef struct rz_budget_ev {
    Ratusz__V1__Event ev;
    Ratusz__V1__BudgetEntry b;
    Ratusz__V1__RawData raw;
    Ratusz__V1__BudgetEntry__AttributesEntry *attr;
    Ratusz__V1__BudgetEntry__AttributesEntry **attrp;
    size_t attr_cap;
    char **owned;
    size_t n_owned, owned_cap;
    char id[RZ_ID_MAX + 1];
    char tenant[8];
} rz_budget_ev_t;

void rz__budget_ev_init(rz_budget_ev_t *e);
/* Clear for the next record (keeps the arrays). type is borrowed. */
void rz__budget_ev_budget(rz_budget_ev_t *e, const char *type);
void rz__budget_ev_raw(rz_budget_ev_t *e, const char *type,
                       const char *content_type, const uint8_t *bytes,
                       size_t len);
/* Add an attribute (borrowed strings). 0 or RZ_ENOMEM. */
int rz__budget_ev_attr(rz_budget_ev_t *e, const char *key, const char *value);
/* Take ownership of s (malloc'd) and return it; NULL when s is NULL. */
char *rz__budget_ev_own(rz_budget_ev_t *e, char *s);
void rz__budget_ev_free(rz_budget_ev_t *e);

/* The source of an event: the configured override, or
 * "/<tenant>/budget/<system>". Owned by e. */
const char *rz__budget_ev_source(rz_budget_ev_t *e, const rz_budget_state_t *st,
                                 const char *system);

/* ---------------------------------------------------------------------------
 * CSV rows (csvread.c)
 */

typedef struct rz_budget_row {
    size_t n;             /* fields */
    char **f;             /* NUL-terminated UTF-8 */
    uint64_t line;        /* first line of the row, 1-based */
    uint64_t index;       /* 1-based among the rows of the input */
    const uint8_t *bytes; /* the row's lines in the original input */
    size_t len;
    /* non-NULL: the row could not be split into fields (quoting); n is 0 */
    const char *error;
} rz_budget_row_t;

/* Called for every row; a negative return stops the reading and is
 * returned by rz__budget_csv_each. */
typedef int (*rz__budget_row_fn)(void *ctx, const rz_budget_row_t *row);

/* Split t into rows with libcsv (delimiter delim, strict quoting). Blank
 * lines are no rows. A row whose quoting is broken is reported once with
 * error set, and reading goes on at the next line, so one bad quote does
 * not swallow the rest of the file. Returns 0, RZ_ENOMEM or fn's code. */
int rz__budget_csv_each(const rz_budget_text_t *t, char delim,
                        rz__budget_row_fn fn, void *ctx);

/* ---------------------------------------------------------------------------
 * Formats
 */

/* What each format's parse gets. */
typedef struct rz_budget_job {
    const rz_budget_state_t *st;
    const rz_input_t *in;
    rz_out_t *out;
    char *err;
    size_t err_len;
} rz_budget_job_t;

int rz__budget_parse_bdl(rz_budget_job_t *job);
int rz__budget_parse_pabulib(rz_budget_job_t *job);
int rz__budget_parse_rb(rz_budget_job_t *job);
int rz__budget_parse_fk(rz_budget_job_t *job);

/* Report a quarantined record with a formatted reason, or an event.
 * Both return 0: when the runtime fails to take a record it quarantines it
 * itself, and the module goes on with the next (adapter.h). */
int rz__budget_quarantine(rz_out_t *out, const rz_record_ref_t *ref,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int rz__budget_emit(rz_out_t *out, const rz_record_ref_t *ref,
                    const Ratusz__V1__Event *ev);

/* The fk header: which canonical column is where (-1: absent). Shared with
 * the format detection in module.c. Returns 0, or RZ_EINVAL with err when a
 * configured column name is not in the header. */
int rz__budget_fk_map_header(const rz_budget_state_t *st,
                             const rz_budget_row_t *hdr,
                             int col[RZ_BUDGET_COL_COUNT], char *err,
                             size_t err_len);

/* Sink (sink.c) */
int rz__budget_sink_open(void **sink, void *state, const char *target,
                         char *err, size_t err_len);
int rz__budget_sink_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                          size_t err_len);
int rz__budget_sink_flush(void *sink, char *err, size_t err_len);
void rz__budget_sink_close(void *sink);

#endif
