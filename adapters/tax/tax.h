/* tax.h - internals of the tax module shared by its two readers and its
 * tests (the module's public face is rz_module_tax in tax.c).
 *
 * Two readers turn an input into TaxAssessment events:
 *   declaration.c  DN-1 / IN-1 property-tax declarations (XML, libxml2)
 *   assessment.c   fixed-width records of tax assessments (decyzje)
 * and check.c holds what both need: identifier checksums (PESEL, NIP,
 * REGON), EGiB parcel ids, exact decimal amounts, dates in Europe/Warsaw,
 * UTF-8 validation. README.md next to this file documents the layouts and
 * the mapping.
 */
#ifndef RATUSZ_ADAPTER_TAX_H
#define RATUSZ_ADAPTER_TAX_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/adapter.h"
#include "ratusz/core/text.h"
#include "ratusz/core/time.h"

/* The module (tax.c). */
extern const rz_adapter_module_t rz_module_tax;

/* ---------------------------------------------------------------------------
 * Options and per-adapter state
 */

typedef struct rz_tax_conf {
    char *tenant;   /* TERC of the gmina whose tax system this is, or "" */
    char *encoding; /* of input that does not declare one: "auto" or an
                       iconv name */
} rz_tax_conf_t;

extern const rz_conf_option_t rz__tax_options[];

typedef struct rz_tax {
    char tenant[8]; /* 7 digits, or "" */
    char *encoding; /* "auto" or an iconv name */
} rz_tax_t;

int rz__tax_open(void **state, const void *conf, char *err, size_t err_len);

/* The core's RZC_ENC_* for an encoding option the core decodes itself
 * ("auto", UTF-8, Windows-1250 under their usual names), or -1 for
 * another code page, which is read through iconv. */
int rz__tax_encoding(const char *name);
void rz__tax_close(void *state);

/* ---------------------------------------------------------------------------
 * One document as both readers see it, before it becomes events
 */

#define RZ_TAX_TEXT 256 /* longest field kept, bytes of UTF-8 */
#define RZ_TAX_OBJECTS 64

typedef struct rz_tax_object {
    char kind[16]; /* "grunt", "budynek", "budowla" */
    char parcel_id[64];
    char building_id[96];
    char use[64]; /* the category's name (see rz__tax_use) */
    int64_t base_milli;
    char base_unit[4]; /* "m2", "ha", "PLN" */
    int64_t rate_grosze;
    int64_t tax_grosze;
} rz_tax_object_t;

typedef struct rz_tax_doc {
    const char *type; /* event type */
    char form[16];    /* "DN-1", "IN-1", "decyzja" */
    char document_id[RZ_TAX_TEXT];
    char id_prefix[RZ_TAX_TEXT]; /* event id = prefix + "/" + group key */
    int tax_year;
    char tenant[8];
    int64_t time;     /* unix microseconds, UTC */
    int64_t due_date; /* unix microseconds, UTC, or 0 */
    char account[64];
    int person; /* Party kind: 1 person, 0 organisation */
    char pesel[12], nip[11], regon[15];
    char name[RZ_TAX_TEXT];
    char address[RZ_TAX_TEXT];
    size_t n_objects;
    rz_tax_object_t objects[RZ_TAX_OBJECTS];
} rz_tax_doc_t;

/* Report d as events to out: one per parcel, holding every object of d on
 * that parcel (in order of first appearance), with subject
 * "parcel:<id>"; objects without a parcel go into one event with subject
 * "document:<id_prefix>" (never the account: it is personal data). Each
 * event's id is d->id_prefix + "/" + parcel id (or "/account"). All events
 * share ref. Returns the number of events reported, or a negative code when an
 * event could not be built (nothing was reported then and why holds the reason
 * for the quarantine). */
int rz__tax_emit(const rz_tax_doc_t *d, const rz_record_ref_t *ref,
                 rz_out_t *out, char *why, size_t why_len);

/* ---------------------------------------------------------------------------
 * The readers (declaration.c, assessment.c). Each reports every record of
 * in to out exactly once and returns 0, or a negative RZ_E* code with err
 * when the input as a whole is not of its format.
 */

int rz__tax_declaration_parse(rz_tax_t *t, const rz_input_t *in, rz_out_t *out,
                              char *err, size_t err_len);
int rz__tax_assessment_parse(rz_tax_t *t, const rz_input_t *in, rz_out_t *out,
                             char *err, size_t err_len);

/* The fixed-width record layout (assessment.c). */
typedef struct rz_tax_field {
    const char *name; /* as the reasons name it: "kwota podatku" */
    int col, len;     /* 1-based first column, width in characters */
} rz_tax_field_t;

enum {
    RZ_TAXF_TYPE,
    RZ_TAXF_DOCUMENT,
    RZ_TAXF_ITEM,
    RZ_TAXF_ACCOUNT,
    RZ_TAXF_PESEL,
    RZ_TAXF_SURNAME,
    RZ_TAXF_GIVEN,
    RZ_TAXF_ADDRESS,
    RZ_TAXF_PARCEL,
    RZ_TAXF_KIND,
    RZ_TAXF_USE,
    RZ_TAXF_BASE,
    RZ_TAXF_UNIT,
    RZ_TAXF_RATE,
    RZ_TAXF_AMOUNT,
    RZ_TAXF_YEAR,
    RZ_TAXF_DUE,
    RZ_TAXF_ISSUED,
    RZ_TAXF_COUNT
};

extern const rz_tax_field_t rz__tax_layout[RZ_TAXF_COUNT];
#define RZ_TAX_RECORD_LEN 220

/* ---------------------------------------------------------------------------
 * Checks and conversions (check.c). Each returns 0, or -1 with a reason
 * in why ("checksum digit is 9, expected 8") that the caller prefixes with
 * the field's name.
 */

int rz__tax_pesel_check(const char *s, char *why, size_t why_len);
int rz__tax_nip_check(const char *s, char *why, size_t why_len);
int rz__tax_regon_check(const char *s, char *why, size_t why_len);

/* An EGiB parcel id "WWPPGG_R.OOOO.NR[/NR]" (NR may carry an arkusz
 * prefix "AR_n."); writes the TERC code of its unit, "WWPPGGR", to terc
 * (8 bytes). */
int rz__tax_parcel_check(const char *s, char terc[8], char *why,
                         size_t why_len);

/* A decimal number as written ("1234,56", "1234.56", "246") into an
 * integer scaled by 10^scale, exactly: more fraction digits than scale are
 * accepted only when they are zeros. No sign, no exponent, no thousands
 * separators. */
int rz__tax_decimal(const char *s, int scale, int64_t *out, char *why,
                    size_t why_len);

/* Unsigned digits only, exactly as long as s is (fixed-width fields). */
int rz__tax_digits(const char *s, int64_t *out, char *why, size_t why_len);

/* A calendar date "YYYY-MM-DD" or "YYYYMMDD" to the start of that day in
 * Europe/Warsaw, as unix microseconds UTC. Supported from 1988 on, the
 * year Poland's summer time began following the European rule. */
int rz__tax_date(const char *s, int64_t *us, char *why, size_t why_len);

/* Whole złoty by art. 63 § 1 of the Ordynacja podatkowa: below 50 grosze
 * down, from 50 grosze up. */
int64_t rz__tax_round_zloty(int64_t grosze);

/* The name of a category code ("MI" -> "mieszkalne"), or NULL. kind is
 * 'G' (grunt), 'B' (budynek) or 'L' (budowla). */
const char *rz__tax_use(char kind, const char *code);

/* Copy s into dst (cap bytes) without the surrounding white space; -1 if
 * it does not fit. */
int rz__tax_copy_trim(char *dst, size_t cap, const char *s, size_t len);

#endif
