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
    RZB_FORMAT_AUTO,
    RZB_FORMAT_BDL,
    RZB_FORMAT_PABULIB,
    RZB_FORMAT_RB,
    RZB_FORMAT_FK
};
enum {
    RZB_ENC_AUTO = RZC_ENC_AUTO,
    RZB_ENC_UTF8 = RZC_ENC_UTF8,
    RZB_ENC_CP1250 = RZC_ENC_CP1250
};
enum { RZB_SIDE_AUTO, RZB_SIDE_INCOME, RZB_SIDE_EXPENDITURE };

typedef struct rzb_conf {
    int format;                 /* RZB_FORMAT_* */
    int encoding;               /* RZB_ENC_*: of CSV inputs */
    char *tenant;               /* TERC for inputs that carry none */
    rz_conf_map_t tenant_names; /* unit name -> TERC (Pabulib "unit") */
    uint64_t year;              /* fiscal year for fk files without "rok" */
    int side;                   /* RZB_SIDE_*: fk files without "strona" */
    rz_conf_map_t columns;      /* fk: canonical column -> header name */
    char *system;               /* fk: the finance system's name in sources */
    char *source;               /* overrides every source when set */
    int sink_encoding;          /* RZB_ENC_UTF8 or RZB_ENC_CP1250 */
} rzb_conf_t;

extern const rz_conf_option_t rzb_options[];

/* The fk format's canonical columns, in the order the sink writes them
 * (the amount columns plan..zaangazowanie are read, never written). */
enum {
    RZB_COL_ROK,
    RZB_COL_OKRES,
    RZB_COL_TERYT,
    RZB_COL_JEDNOSTKA,
    RZB_COL_DZIAL,
    RZB_COL_ROZDZIAL,
    RZB_COL_PARAGRAF,
    RZB_COL_STRONA,
    RZB_COL_ETAP,
    RZB_COL_KWOTA,
    RZB_COL_WALUTA,
    RZB_COL_ZADANIE,
    RZB_COL_OPIS,
    RZB_COL_SPRAWOZDANIE,
    RZB_COL_PLAN,
    RZB_COL_PLAN_PO_ZMIANACH,
    RZB_COL_WYKONANIE,
    RZB_COL_ZAANGAZOWANIE,
    RZB_COL_COUNT
};
#define RZB_SINK_COLUMNS (RZB_COL_SPRAWOZDANIE + 1)
extern const char *const rzb_col_names[RZB_COL_COUNT];

/* Per-adapter state: the options, copied. */
typedef struct rzb_state {
    int format, encoding, side, sink_encoding;
    uint64_t year;
    char *tenant, *system, *source;
    size_t n_names;
    char **name_keys, **name_codes;  /* tenant_names, normalised keys */
    char *col_header[RZB_COL_COUNT]; /* columns: header name or NULL */
} rzb_state_t;

/* ---------------------------------------------------------------------------
 * Text (text.c)
 */

/* An input decoded to UTF-8, field by field (ratusz/core/text.h). */
typedef rzc_text_t rzb_text_t;

/* A non-negative decimal integer, all digits; -1 if not. */
int rzb_uint(const char *s, int64_t max, int64_t *out);

/* The end of a period ("2023", "2023-Q4", "2023-09") as unix µs: midnight
 * in Warsaw at the start of the next one. 0 when period is not one of
 * those shapes. */
int64_t rzb_period_end_us(const char *period);

/* TERC tenant of a 7-digit code WWPPGGR (TERYT or GUS BDL "Kod"): WW for
 * a voivodeship (PPGGR zero), WWPP for a powiat, WWPPGGR for a gmina.
 * Returns 0 or -1. */
int rzb_tenant_from_code(const char *code, char out[8]);

/* 1 if a cell means "no value" in one of the usual spellings: empty,
 * "-", "None" (Python's, in real Pabulib files), "NULL", "null", "NaN"
 * (any case, surrounding spaces ignored). Where a value may be missing the
 * readers take such a cell as absent; where one is required the record is
 * quarantined saying the value is missing. */
int rzb_is_missing(const char *s);

/* 1 if s is a TERC code (2, 4 or 7 digits). */
int rzb_is_terc(const char *s);

/* Lowercase ASCII with Polish letters folded ("Wartość" -> "wartosc"),
 * '_' as ' ', spaces trimmed and collapsed: how header names and enum
 * words are compared. Writes at most len-1 bytes. */
void rzb_fold(const char *s, char *out, size_t len);

/* rzb_fold, then every run of other than [a-z0-9] as one '-': for ids. */
void rzb_slug(const char *s, char *out, size_t len);

/* A set of strings, to find a record identity seen twice in one input
 * (the broker would take the second as a duplicate of the first and keep
 * neither's difference). Hand-written because hsearch_r cannot grow. */
typedef struct rzb_set {
    char **slot;
    size_t cap, n;
} rzb_set_t;

/* 1 if key was already in the set, 0 if added now, RZ_ENOMEM. */
int rzb_set_add(rzb_set_t *s, const char *key);
int rzb_set_has(const rzb_set_t *s, const char *key);
void rzb_set_free(rzb_set_t *s);

/* snprintf into a malloc'd string; NULL on ENOMEM. */
char *rzb_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------------------
 * Units (unit.c)
 */

/* The TERC of a unit name: budget.tenant_names, else the one gmina of
 * that name in the TERC register the runtime lends through out. Returns
 * 0, or -1 with why saying why the name resolves to no tenant (unknown,
 * shared by several gminy, no register configured). */
int rzb_unit_by_name(const rzb_state_t *st, rz_out_t *out, const char *name,
                     char code[8], char *why, size_t why_len);

/* The tenant of a GUS BDL unit code, 7 digits (WWPPGGR) or 12 (the BDL
 * form, unit.c draws it). Returns 0, or -1 with *why (a static phrase
 * completing "code '...' ") for POLSKA, the NUTS statistical regions and
 * anything that is no unit code. */
int rzb_tenant_from_bdl(const char *code, char out[8], const char **why);

/* ---------------------------------------------------------------------------
 * Events (text.c)
 */

/* One event under construction. Strings are borrowed (the row's fields)
 * or owned (rzb_ev_own); rzb_ev_reset frees the owned ones. */
typedef struct rzb_ev {
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
} rzb_ev_t;

void rzb_ev_init(rzb_ev_t *e);
/* Clear for the next record (keeps the arrays). type is borrowed. */
void rzb_ev_budget(rzb_ev_t *e, const char *type);
void rzb_ev_raw(rzb_ev_t *e, const char *type, const char *content_type,
                const uint8_t *bytes, size_t len);
/* Add an attribute (borrowed strings). 0 or RZ_ENOMEM. */
int rzb_ev_attr(rzb_ev_t *e, const char *key, const char *value);
/* Take ownership of s (malloc'd) and return it; NULL when s is NULL. */
char *rzb_ev_own(rzb_ev_t *e, char *s);
void rzb_ev_free(rzb_ev_t *e);

/* The source of an event: the configured override, or
 * "/<tenant>/budget/<system>". Owned by e. */
const char *rzb_ev_source(rzb_ev_t *e, const rzb_state_t *st,
                          const char *system);

/* ---------------------------------------------------------------------------
 * CSV rows (csvread.c)
 */

typedef struct rzb_row {
    size_t n;             /* fields */
    char **f;             /* NUL-terminated UTF-8 */
    uint64_t line;        /* first line of the row, 1-based */
    uint64_t index;       /* 1-based among the rows of the input */
    const uint8_t *bytes; /* the row's lines in the original input */
    size_t len;
    /* non-NULL: the row could not be split into fields (quoting); n is 0 */
    const char *error;
} rzb_row_t;

/* Called for every row; a negative return stops the reading and is
 * returned by rzb_csv_each. */
typedef int (*rzb_row_fn)(void *ctx, const rzb_row_t *row);

/* Split t into rows with libcsv (delimiter delim, strict quoting). Blank
 * lines are no rows. A row whose quoting is broken is reported once with
 * error set, and reading goes on at the next line, so one bad quote does
 * not swallow the rest of the file. Returns 0, RZ_ENOMEM or fn's code. */
int rzb_csv_each(const rzb_text_t *t, char delim, rzb_row_fn fn, void *ctx);

/* ---------------------------------------------------------------------------
 * Formats
 */

/* What each format's parse gets. */
typedef struct rzb_job {
    const rzb_state_t *st;
    const rz_input_t *in;
    rz_out_t *out;
    char *err;
    size_t err_len;
} rzb_job_t;

int rzb_parse_bdl(rzb_job_t *job);
int rzb_parse_pabulib(rzb_job_t *job);
int rzb_parse_rb(rzb_job_t *job);
int rzb_parse_fk(rzb_job_t *job);

/* Report a quarantined record with a formatted reason, or an event.
 * Both return 0: when the runtime fails to take a record it quarantines it
 * itself, and the module goes on with the next (adapter.h). */
int rzb_quarantine(rz_out_t *out, const rz_record_ref_t *ref, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));
int rzb_emit(rz_out_t *out, const rz_record_ref_t *ref,
             const Ratusz__V1__Event *ev);

/* The fk header: which canonical column is where (-1: absent). Shared with
 * the format detection in module.c. Returns 0, or RZ_EINVAL with err when a
 * configured column name is not in the header. */
int rzb_fk_map_header(const rzb_state_t *st, const rzb_row_t *hdr,
                      int col[RZB_COL_COUNT], char *err, size_t err_len);

/* Sink (sink.c) */
int rzb_sink_open(void **sink, void *state, const char *target, char *err,
                  size_t err_len);
int rzb_sink_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                   size_t err_len);
int rzb_sink_flush(void *sink, char *err, size_t err_len);
void rzb_sink_close(void *sink);

#endif
