/* tax.c - the tax module: property-tax declarations (DN-1, IN-1) and
 * legacy fixed-width records of tax assessments onto the bus as
 * TaxAssessment events.
 *
 * What an input becomes (README.md has the layouts):
 *
 *   XML <Deklaracja>, alone or many in <Deklaracje>
 *        one record per declaration (key "Deklaracja[i]"); a valid one is
 *        one event per taxed parcel, type pl.gov.gmina.tax.declaration.v1
 *        (pl.gov.gmina.tax.correction.v1 for a korekta)
 *   fixed-width text, one decision item per line
 *        one record and one event per line (key "line N"), type
 *        pl.gov.gmina.tax.assessment.v1
 *
 * The subject is always "parcel:<EGiB id>", the subject the gis module
 * gives the parcel itself, so that `ratusz query --subject parcel:...`
 * shows a parcel's geometry, declarations and decisions together: an
 * official handling a case about a piece of land sees everything about
 * it in one query. Objects with no parcel (rare: a structure declared
 * without one) get "document:<form>/<document number>" (a decision's item
 * number included): the taxpayer's account is personal data (tax.proto)
 * and must not become a subject, which is indexed and shown everywhere.
 *
 * A record is the unit of the quarantine: a declaration with one bad
 * field is quarantined whole, never published in part, since it is one
 * legal document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "tax.h"

/* ---------------------------------------------------------------------------
 * Options
 */

const rz_conf_option_t rz__tax_options[] = {
    {"tenant", RZ_CONF_STRING, offsetof(rz_tax_conf_t, tenant), "", NULL, 0, 0,
     "TERC",
     "TERC code (7 digits) of the gmina whose tax system this is; empty: "
     "the declaration's organ podatkowy, else the parcel's TERYT unit"},
    {"encoding", RZ_CONF_STRING, offsetof(rz_tax_conf_t, encoding), "auto",
     NULL, 0, 0, "NAME",
     "encoding of input that declares none (fixed-width records, an XML "
     "record without its prolog): auto = UTF-8 if the input is valid "
     "UTF-8 or starts with a BOM, else WINDOWS-1250; or an iconv name"},
    {NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL}};

int rz__tax_encoding(const char *name)
{
    static const struct {
        const char *name;
        int enc;
    } known[] = {{"auto", RZC_ENC_AUTO},     {"UTF-8", RZC_ENC_UTF8},
                 {"UTF8", RZC_ENC_UTF8},     {"WINDOWS-1250", RZC_ENC_CP1250},
                 {"CP1250", RZC_ENC_CP1250}, {"WIN-1250", RZC_ENC_CP1250}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcasecmp(name, known[i].name))
            return known[i].enc;
    return -1;
}

int rz__tax_open(void **state, const void *conf, char *err, size_t err_len)
{
    const rz_tax_conf_t *c = conf;
    const char *tenant = c && c->tenant ? c->tenant : "";
    const char *enc = c && c->encoding && *c->encoding ? c->encoding : "auto";
    size_t tl = strlen(tenant);
    int ok = tl == 0 || tl == 7;
    for (size_t i = 0; ok && i < tl; i++)
        ok = tenant[i] >= '0' && tenant[i] <= '9';
    if (!ok) {
        snprintf(err, err_len,
                 "tax.tenant: '%.32s' is not the TERC code of a gmina (7 "
                 "digits)",
                 tenant);
        return RZ_ECONFIG;
    }
    if (rz__tax_encoding(enc) < 0) {
        char *probe = NULL;
        size_t n, at;
        int rc = rzc_iconv("UTF-8", enc, "", 0, &probe, &n, &at);
        free(probe);
        if (rc == RZ_ENOMEM) {
            snprintf(err, err_len, "%s", "out of memory");
            return rc;
        }
        if (rc) {
            snprintf(err, err_len,
                     "tax.encoding: '%.64s' is not an encoding "
                     "iconv knows",
                     enc);
            return RZ_ECONFIG;
        }
    }
    rz_tax_t *t = calloc(1, sizeof(*t));
    if (!t || !(t->encoding = strdup(enc))) {
        free(t);
        snprintf(err, err_len, "%s", "out of memory");
        return RZ_ENOMEM;
    }
    memcpy(t->tenant, tenant, tl + 1);
    /* before any thread parses (libxml2 sets up its globals once) */
    xmlInitParser();
    *state = t;
    return 0;
}

void rz__tax_close(void *state)
{
    rz_tax_t *t = state;
    if (!t)
        return;
    free(t->encoding);
    free(t);
}

/* ---------------------------------------------------------------------------
 * Parse: XML or fixed-width, told apart by the first character
 */

static int s_parse(void *state, const rz_input_t *in, rz_out_t *out, char *err,
                   size_t err_len)
{
    rz_tax_t *t = state;
    size_t i = 0;
    if (in->len >= 3 && !memcmp(in->data, "\xef\xbb\xbf", 3))
        i = 3;
    while (i < in->len && (in->data[i] == ' ' || in->data[i] == '\t' ||
                           in->data[i] == '\r' || in->data[i] == '\n'))
        i++;
    if (i == in->len) {
        snprintf(err, err_len, "%s",
                 "empty input: no declaration and no assessment record");
        return RZ_EINVAL;
    }
    if (in->data[i] == '<')
        return rz__tax_declaration_parse(t, in, out, err, err_len);
    return rz__tax_assessment_parse(t, in, out, err, err_len);
}

/* ---------------------------------------------------------------------------
 * Events
 */

typedef struct s_group {
    const char *parcel; /* NULL: objects without a parcel */
    size_t n;
    Ratusz__V1__TaxObject *objs[RZ_TAX_OBJECTS];
} s_group_t;

int rz__tax_emit(const rz_tax_doc_t *d, const rz_record_ref_t *ref,
                 rz_out_t *out, char *why, size_t why_len)
{
    Ratusz__V1__TaxObject objs[RZ_TAX_OBJECTS];
    /* at most one group per object */
    s_group_t *groups =
        calloc(d->n_objects ? d->n_objects : 1, sizeof(*groups));
    size_t ng = 0;
    int rc = 0;
    if (!groups) {
        snprintf(why, why_len, "%s", "out of memory");
        return RZ_ENOMEM;
    }
    if (d->n_objects == 0) {
        snprintf(why, why_len, "%s",
                 "no taxed object (grunt, budynek, "
                 "budowla)");
        rc = RZ_EINVAL;
        goto done;
    }
    for (size_t i = 0; i < d->n_objects && i < RZ_TAX_OBJECTS; i++) {
        const rz_tax_object_t *o = &d->objects[i];
        Ratusz__V1__TaxObject init = RATUSZ__V1__TAX_OBJECT__INIT;
        objs[i] = init;
        objs[i].kind = (char *)o->kind;
        objs[i].parcel_id = (char *)o->parcel_id;
        objs[i].building_id = (char *)o->building_id;
        objs[i].use = (char *)o->use;
        objs[i].base_milli = o->base_milli;
        objs[i].base_unit = (char *)o->base_unit;
        objs[i].rate_grosze = o->rate_grosze;
        objs[i].tax_grosze = o->tax_grosze;
        const char *parcel = *o->parcel_id ? o->parcel_id : NULL;
        size_t g = 0;
        while (g < ng &&
               !(parcel ? groups[g].parcel && !strcmp(groups[g].parcel, parcel)
                        : !groups[g].parcel))
            g++;
        if (g == ng)
            groups[ng++].parcel = parcel;
        groups[g].objs[groups[g].n++] = &objs[i];
    }

    /* every id and subject first, so that a record is reported either
     * whole or not at all */
    char(*ids)[RZ_ID_MAX + 1] = calloc(ng, sizeof(*ids));
    char(*subjects)[RZ_SUBJECT_MAX + 1] = calloc(ng, sizeof(*subjects));
    if (!ids || !subjects) {
        free(ids);
        free(subjects);
        snprintf(why, why_len, "%s", "out of memory");
        rc = RZ_ENOMEM;
        goto done;
    }
    for (size_t g = 0; g < ng && !rc; g++) {
        const char *p = groups[g].parcel;
        int n = snprintf(ids[g], sizeof(ids[g]), "%s/%s", d->id_prefix,
                         p ? p : "account");
        int m = snprintf(subjects[g], sizeof(subjects[g]), "%s:%s",
                         p ? "parcel" : "document", p ? p : d->id_prefix);
        if (n < 0 || (size_t)n >= sizeof(ids[g]) || m < 0 ||
            (size_t)m >= sizeof(subjects[g])) {
            snprintf(why, why_len,
                     "event id '%.60s...' is longer than %d "
                     "bytes",
                     ids[g], RZ_ID_MAX);
            rc = RZ_ETOOBIG;
        }
    }

    Ratusz__V1__Party party = RATUSZ__V1__PARTY__INIT;
    party.kind = d->person ? RATUSZ__V1__PARTY__KIND__KIND_PERSON
                           : RATUSZ__V1__PARTY__KIND__KIND_ORGANISATION;
    party.pesel = (char *)d->pesel;
    party.nip = (char *)d->nip;
    party.regon = (char *)d->regon;
    party.name = (char *)d->name;
    party.address = (char *)d->address;
    for (size_t g = 0; g < ng && !rc; g++) {
        Ratusz__V1__TaxAssessment a = RATUSZ__V1__TAX_ASSESSMENT__INIT;
        a.document_id = (char *)d->document_id;
        a.form = (char *)d->form;
        a.tax_year = d->tax_year;
        a.taxpayer = &party;
        a.n_objects = groups[g].n;
        a.objects = groups[g].objs;
        for (size_t k = 0; k < groups[g].n; k++)
            a.total_grosze += groups[g].objs[k]->tax_grosze;
        a.account = (char *)d->account;
        a.due_date = d->due_date;
        Ratusz__V1__Event ev = RATUSZ__V1__EVENT__INIT;
        ev.id = ids[g];
        ev.type = (char *)d->type;
        ev.subject = subjects[g];
        ev.tenant = (char *)d->tenant;
        ev.time = d->time;
        ev.data_case = RATUSZ__V1__EVENT__DATA_TAX;
        ev.tax = &a;
        /* a negative return: the runtime could not take the event and
         * quarantined the record itself; go on */
        rz_out_event(out, ref, &ev);
    }
    free(ids);
    free(subjects);
    if (!rc)
        rc = (int)ng;
done:
    free(groups);
    return rc;
}

const rz_adapter_module_t rz_module_tax = {
    .name = "tax",
    .description = "property tax: DN-1/IN-1 declarations (XML) and "
                   "fixed-width assessment records",
    .options = rz__tax_options,
    .conf_size = sizeof(rz_tax_conf_t),
    .open = rz__tax_open,
    .close = rz__tax_close,
    .parse = s_parse,
};
