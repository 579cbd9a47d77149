/* rb.c - Ministry of Finance budget execution reports, Rb-27S (income)
 * and Rb-28S (expenditure), in the MF XML layout:
 *
 *   PaczkaSprawozdan                  (or Jednostki as the root)
 *     Rok, TypOkresu (K, M, R), Okres
 *     Jednostki/Jednostka
 *       Nazwa, Regon, WK, PK, GK, GT  (TERYT parts of the reporting unit)
 *       Sprawozdania/Rb-28s
 *         Naglowek/Wersja
 *         Pozycje/Pozycja             Dzial, Rozdzial, Paragraf, P4 and
 *                                     the figures PL, ZA, WW (Rb-27S: PL,
 *                                     DW) plus others kept verbatim
 *
 * Every value may be an attribute or a child element of the same name:
 * exports of both shapes exist. A record is one figure of one Pozycja
 * (the plan and the execution of a paragraph are two BudgetEntry events,
 * told apart by stage); a Pozycja that cannot be classified is one
 * quarantined record.
 */
#include "budget.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct s_rb {
    rz_budget_job_t *job;
    xmlDocPtr doc;
    xmlBufferPtr dump;
    rz_budget_ev_t e;
    rz_budget_set_t seen;
    /* the package's period, the default for its reports */
    char *rok, *typ, *okres;
} s_rb_t;

/* The value of name on node: attribute first, else the text of a child
 * element. malloc'd (xmlFree) or NULL. */
static char *s_get(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
    if (v)
        return (char *)v;
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return (char *)xmlNodeGetContent(c);
    return NULL;
}

static void s_trim(char *s)
{
    if (!s)
        return;
    size_t n = strlen(s), i = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

static char *s_val(xmlNodePtr node, const char *name)
{
    char *v = s_get(node, name);
    s_trim(v);
    return v;
}

static xmlNodePtr s_child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

static int s_digits(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* "2023" + K/4 -> "2023-Q4"; M/9 -> "2023-09"; R or none -> "2023". */
static int s_period(const char *rok, const char *typ, const char *okres,
                    char *out, size_t len)
{
    int64_t y, n;
    if (!rok || rz__budget_uint(rok, 9999, &y) || y < 1900)
        return -1;
    char t = typ && *typ ? (char)(*typ & ~0x20) : 'R';
    int yy = (int)y;
    if (t == 'K' && okres && rz__budget_uint(okres, 4, &n) == 0 && n >= 1)
        snprintf(out, len, "%04d-Q%d", yy, (int)n);
    else if (t == 'M' && okres && rz__budget_uint(okres, 12, &n) == 0 && n >= 1)
        snprintf(out, len, "%04d-%02d", yy, (int)n);
    else if (t == 'R' || t == 'Y')
        snprintf(out, len, "%04d", yy);
    else
        return -1;
    return 0;
}

/* The figures of each report and what they are. */
typedef struct s_fig {
    const char *name;
    Ratusz__V1__BudgetStage stage;
} s_fig_t;

static const s_fig_t s_figs28[] = {
    {"PL", RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES},
    {"ZA", RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_COMMITMENTS},
    {"WW", RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION},
    {NULL, 0},
};
static const s_fig_t s_figs27[] = {
    {"PL", RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES},
    {"DW", RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_EXECUTION},
    {NULL, 0},
};

/* What a report passes down to its positions. */
typedef struct s_ctx {
    const char *report; /* "Rb-28S" */
    const char *rslug;  /* "rb28s" */
    const s_fig_t *figs;
    Ratusz__V1__BudgetSide side;
    char period[16];
    int32_t year;
    int64_t time;
    const char *tenant_error; /* non-NULL: every record is quarantined */
    char tenant[8];
    char who[32]; /* REGON, or the tenant */
    char *nazwa, *regon, *wersja;
    char prefix[96]; /* "Jednostka[1]/Rb-28S" */
    char why[160];
} s_ctx_t;

static void s_ref(s_rb_t *r, xmlNodePtr node, rz_record_ref_t *ref,
                  const char *key)
{
    xmlBufferEmpty(r->dump);
    xmlNodeDump(r->dump, r->doc, node, 0, 0);
    ref->line = (uint64_t)xmlGetLineNo(node);
    ref->key = key;
    ref->bytes = xmlBufferContent(r->dump);
    ref->len = (size_t)xmlBufferLength(r->dump);
}

static int s_pozycja(s_rb_t *r, const s_ctx_t *c, xmlNodePtr poz, size_t i)
{
    rz_budget_job_t *job = r->job;
    rz_out_t *out = job->out;
    char key[160];
    snprintf(key, sizeof key, "%s/Pozycja[%zu]", c->prefix, i);
    rz_record_ref_t ref;
    s_ref(r, poz, &ref, key);
    if (c->tenant_error)
        return rz__budget_quarantine(out, &ref, "%s", c->tenant_error);

    char *dz = s_val(poz, "Dzial"), *ro = s_val(poz, "Rozdzial");
    char *pa = s_val(poz, "Paragraf"), *p4 = s_val(poz, "P4");
    char par[8] = "";
    int rc = 0;
    const char *bad = NULL;
    if (!s_digits(dz, 3))
        bad = "Dzial";
    else if (!s_digits(ro, 5) || strncmp(ro, dz, 3) != 0)
        bad = "Rozdzial";
    else if (s_digits(pa, 3) &&
             (!p4 || rz__budget_is_missing(p4) || s_digits(p4, 1)))
        snprintf(par, sizeof par, "%s%s", pa,
                 p4 && !rz__budget_is_missing(p4) ? p4 : "");
    else if (s_digits(pa, 4) && (!p4 || rz__budget_is_missing(p4)))
        snprintf(par, sizeof par, "%s", pa);
    else
        bad = "Paragraf";
    if (bad) {
        const char *v = !strcmp(bad, "Dzial")      ? dz
                        : !strcmp(bad, "Rozdzial") ? ro
                                                   : pa;
        rz__budget_quarantine(
            out, &ref, "%s: '%s' is not a %s", bad, v ? v : "(missing)",
            !strcmp(bad, "Dzial")      ? "3-digit section"
            : !strcmp(bad, "Rozdzial") ? "5-digit chapter of its "
                                         "section"
                                       : "3-digit paragraph "
                                         "(+ P4) or 4-digit "
                                         "paragraph");
        goto done;
    }

    /* every attribute and simple child element, verbatim */
    size_t na = 0, cap = 1;
    for (xmlAttrPtr a = poz->properties; a; a = a->next)
        cap++;
    for (xmlNodePtr ch = poz->children; ch; ch = ch->next)
        cap++;
    char **ak = calloc(cap, sizeof *ak), **av = calloc(cap, sizeof *av);
    if (!ak || !av) {
        free(ak);
        free(av);
        rc = RZ_ENOMEM;
        goto done;
    }
    for (xmlAttrPtr a = poz->properties; a && na < cap; a = a->next) {
        ak[na] = (char *)a->name;
        av[na++] = (char *)xmlNodeListGetString(r->doc, a->children, 1);
    }
    for (xmlNodePtr ch = poz->children; ch && na < cap; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE) {
            ak[na] = (char *)ch->name;
            av[na++] = (char *)xmlNodeGetContent(ch);
        }

    int figures = 0;
    for (const s_fig_t *f = c->figs; f->name && rc == 0; f++) {
        char *v = s_val(poz, f->name);
        if (!v || rz__budget_is_missing(v)) {
            xmlFree(v);
            continue;
        }
        figures++;
        char fkey[176];
        snprintf(fkey, sizeof fkey, "%s/%s", key, f->name);
        s_ref(r, poz, &ref, fkey);
        int64_t grosze;
        const char *why;
        if (rzc_grosze(v, 1, &grosze, &why)) {
            rz__budget_quarantine(out, &ref, "%s: '%s' %s", f->name, v, why);
            xmlFree(v);
            continue;
        }
        xmlFree(v);
        rz_budget_ev_t *e = &r->e;
        int plan = f->stage ==
                   RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN_AFTER_CHANGES;
        rz__budget_ev_budget(e, plan ? "pl.gov.gmina.budget.plan.v1"
                                     : "pl.gov.gmina.budget.execution.v1");
        snprintf(e->tenant, sizeof e->tenant, "%s", c->tenant);
        char ps[16], fs[8];
        rz__budget_slug(c->period, ps, sizeof ps);
        rz__budget_slug(f->name, fs, sizeof fs);
        snprintf(e->id, sizeof e->id, "%s-%s-%s%s%s-%s-%s-%s-%s", c->rslug,
                 c->who, ps, c->wersja ? "-v" : "", c->wersja ? c->wersja : "",
                 dz, ro, par, fs);
        if ((rc = rz__budget_set_add(&r->seen, e->id)) < 0)
            break;
        if (rc == 1) {
            rc = 0;
            rz__budget_quarantine(out, &ref,
                                  "%s %s %s %s appears twice in the "
                                  "report",
                                  dz, ro, par, f->name);
            continue;
        }
        e->ev.source = (char *)rz__budget_ev_source(e, job->st, "mf-rb");
        e->ev.subject = rz__budget_ev_own(
            e, rz__budget_printf("budget:%s.%s.%s", dz, ro, par));
        if (!e->ev.source || !e->ev.subject) {
            rc = RZ_ENOMEM;
            break;
        }
        e->ev.time = c->time;
        Ratusz__V1__BudgetEntry *b = &e->b;
        b->dzial = dz;
        b->rozdzial = ro;
        b->paragraf = par;
        b->side = c->side;
        b->stage = f->stage;
        b->amount_grosze = grosze;
        b->fiscal_year = c->year;
        b->period = (char *)c->period;
        b->report = (char *)c->report;
        b->unit = c->nazwa ? c->nazwa : (char *)c->who;
        for (size_t k = 0; k < na; k++)
            if (!strcmp(ak[k], "Opis") || !strcmp(ak[k], "Nazwa"))
                b->description = av[k] ? av[k] : "";
        for (size_t k = 0; k < na && rc == 0; k++)
            rc = rz__budget_ev_attr(e, ak[k], av[k] ? av[k] : "");
        if (rc == 0 && c->regon)
            rc = rz__budget_ev_attr(e, "Regon", c->regon);
        if (rc == 0 && c->wersja)
            rc = rz__budget_ev_attr(e, "Wersja", c->wersja);
        if (rc == 0)
            rz__budget_emit(out, &ref, &e->ev);
    }
    if (rc == 0 && figures == 0) {
        char names[32] = "";
        for (const s_fig_t *f = c->figs; f->name; f++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "",
                     f->name);
        }
        s_ref(r, poz, &ref, key);
        rz__budget_quarantine(out, &ref, "no figure (%s) in the position",
                              names);
    }
    for (size_t k = 0; k < na; k++)
        xmlFree(av[k]);
    free(ak);
    free(av);
done:
    xmlFree(dz);
    xmlFree(ro);
    xmlFree(pa);
    xmlFree(p4);
    return rc;
}

static int s_report(s_rb_t *r, s_ctx_t *c, xmlNodePtr rep, size_t jidx)
{
    rz_budget_job_t *job = r->job;
    const char *name = (const char *)rep->name;
    if (!strncasecmp(name, "Rb-28", 5)) {
        c->report = "Rb-28S", c->rslug = "rb28s", c->figs = s_figs28;
        c->side = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE;
    } else if (!strncasecmp(name, "Rb-27", 5)) {
        c->report = "Rb-27S", c->rslug = "rb27s", c->figs = s_figs27;
        c->side = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_INCOME;
    } else {
        char key[96];
        snprintf(key, sizeof key, "Jednostka[%zu]/%s", jidx, name);
        rz_record_ref_t ref;
        s_ref(r, rep, &ref, key);
        return rz__budget_quarantine(job->out, &ref,
                                     "report %s is not supported "
                                     "(Rb-27S, Rb-28S)",
                                     name);
    }
    snprintf(c->prefix, sizeof c->prefix, "Jednostka[%zu]/%s", jidx, c->report);
    xmlNodePtr hdr = s_child(rep, "Naglowek");
    char *rok = s_val(rep, "Rok"), *typ = s_val(rep, "TypOkresu");
    char *okres = s_val(rep, "Okres");
    c->wersja = hdr ? s_val(hdr, "Wersja") : NULL;
    if (c->wersja && !*c->wersja) {
        xmlFree(c->wersja);
        c->wersja = NULL;
    }
    int rc = 0;
    const char *saved_error = c->tenant_error;
    if (s_period(rok ? rok : r->rok, rok ? typ : r->typ, rok ? okres : r->okres,
                 c->period, sizeof c->period)) {
        c->tenant_error = "the report has no valid Rok/TypOkresu/Okres";
    } else {
        c->year = (int32_t)atoi(c->period);
        c->time = rz__budget_period_end_us(c->period);
    }
    xmlNodePtr poz = s_child(rep, "Pozycje");
    size_t i = 0;
    for (xmlNodePtr p = poz ? poz->children : NULL; p && rc == 0; p = p->next)
        if (p->type == XML_ELEMENT_NODE &&
            !strcmp((const char *)p->name, "Pozycja"))
            rc = s_pozycja(r, c, p, ++i);
    c->tenant_error = saved_error;
    xmlFree(rok);
    xmlFree(typ);
    xmlFree(okres);
    xmlFree(c->wersja);
    c->wersja = NULL;
    return rc;
}

static int s_jednostka(s_rb_t *r, xmlNodePtr j, size_t jidx)
{
    rz_budget_job_t *job = r->job;
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    char *wk = s_val(j, "WK"), *pk = s_val(j, "PK"), *gk = s_val(j, "GK");
    char *gt = s_val(j, "GT");
    c.nazwa = s_val(j, "Nazwa");
    c.regon = s_val(j, "Regon");
    char code[16];
    if (wk && pk && gk && gt) {
        snprintf(code, sizeof code, "%s%s%s%s", wk, pk, gk, gt);
        if (rz__budget_tenant_from_code(code, c.tenant)) {
            snprintf(c.why, sizeof c.why,
                     "Jednostka: WK PK GK GT '%s %s %s "
                     "%s' is not a TERYT code",
                     wk, pk, gk, gt);
            c.tenant_error = c.why;
        }
    } else if (*job->st->tenant) {
        snprintf(c.tenant, sizeof c.tenant, "%s", job->st->tenant);
    } else {
        c.tenant_error = "Jednostka has no WK/PK/GK/GT (TERYT) and option "
                         "budget.tenant is not set";
    }
    if (c.regon && s_digits(c.regon, strlen(c.regon)) && *c.regon)
        snprintf(c.who, sizeof c.who, "%s", c.regon);
    else
        snprintf(c.who, sizeof c.who, "%s", c.tenant);
    int rc = 0;
    xmlNodePtr spr = s_child(j, "Sprawozdania");
    for (xmlNodePtr rep = spr ? spr->children : NULL; rep && rc == 0;
         rep = rep->next)
        if (rep->type == XML_ELEMENT_NODE)
            rc = s_report(r, &c, rep, jidx);
    xmlFree(wk);
    xmlFree(pk);
    xmlFree(gk);
    xmlFree(gt);
    xmlFree(c.nazwa);
    xmlFree(c.regon);
    return rc;
}

/* Every Jednostka under node, in document order. */
static int s_walk(s_rb_t *r, xmlNodePtr node, size_t *jidx)
{
    int rc = 0;
    for (xmlNodePtr c = node->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!strcmp((const char *)c->name, "Jednostka"))
            rc = s_jednostka(r, c, ++*jidx);
        else
            rc = s_walk(r, c, jidx);
    }
    return rc;
}

/* An XML declaration naming an encoding. */
static int s_declares_encoding(const uint8_t *d, size_t len)
{
    size_t n = len < 200 ? len : 200;
    const uint8_t *end = memchr(d, '>', n);
    if (!end)
        return 0;
    return memmem(d, (size_t)(end - d), "encoding", 8) != NULL;
}

int rz__budget_parse_rb(rz_budget_job_t *job)
{
    const rz_input_t *in = job->in;
    if (in->len > INT32_MAX) {
        snprintf(job->err, job->err_len, "XML input larger than 2 GiB");
        return RZ_EINVAL;
    }
    /* a declaration-less file that is not UTF-8 is taken as Windows-1250,
     * as the CSV inputs are */
    const char *enc = NULL;
    if (!s_declares_encoding(in->data, in->len) &&
        rzc_utf8_invalid_at(in->data, in->len) != in->len)
        enc = "WINDOWS-1250";
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return RZ_ENOMEM;
    xmlDocPtr doc = xmlCtxtReadMemory(
        ctxt, (const char *)in->data, (int)in->len, in->name, enc,
        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        xmlErrorPtr xe = xmlCtxtGetLastError(ctxt);
        snprintf(job->err, job->err_len, "not well-formed XML: line %d: %s",
                 xe ? xe->line : 0,
                 xe && xe->message ? xe->message : "unknown error");
        size_t l = strlen(job->err);
        if (l && job->err[l - 1] == '\n')
            job->err[l - 1] = '\0';
        xmlFreeParserCtxt(ctxt);
        return RZ_EINVAL;
    }
    s_rb_t r;
    memset(&r, 0, sizeof r);
    r.job = job;
    r.doc = doc;
    r.dump = xmlBufferCreate();
    rz__budget_ev_init(&r.e);
    int rc = r.dump ? 0 : RZ_ENOMEM;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    r.rok = s_val(root, "Rok");
    r.typ = s_val(root, "TypOkresu");
    r.okres = s_val(root, "Okres");
    size_t jidx = 0;
    if (rc == 0) {
        if (!strcmp((const char *)root->name, "Jednostka"))
            rc = s_jednostka(&r, root, ++jidx);
        else
            rc = s_walk(&r, root, &jidx);
    }
    if (rc == 0 && jidx == 0) {
        snprintf(job->err, job->err_len,
                 "no Jednostka element under <%s>: "
                 "not an MF Rb-27S/Rb-28S report",
                 (const char *)root->name);
        rc = RZ_EINVAL;
    }
    if (rc == RZ_ENOMEM && job->err_len && !job->err[0])
        snprintf(job->err, job->err_len, "out of memory");
    xmlFree(r.rok);
    xmlFree(r.typ);
    xmlFree(r.okres);
    rz__budget_set_free(&r.seen);
    rz__budget_ev_free(&r.e);
    if (r.dump)
        xmlBufferFree(r.dump);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
