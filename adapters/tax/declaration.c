/* declaration.c - DN-1 and IN-1 property-tax declarations in XML.
 *
 * An input is one <Deklaracja> or a batch of them in a root element
 * (<Deklaracje>); README.md documents the elements read. Each declaration
 * is a record of its own: it is cut out of the input and parsed by
 * libxml2 on its own, so that one broken or truncated declaration is
 * quarantined alone while the rest of the batch is published.
 *
 * Cutting: the bytes before the root element (BOM, XML declaration with
 * its encoding, comments) and the root's start tag (its namespace
 * declarations) are put in front of each declaration's bytes, and the
 * root's end tag after them, so libxml2 sees a small document in the
 * encoding the file declares. Finding where a <Deklaracja> element begins
 * and ends needs only the markup's ASCII bytes, which Windows-1250,
 * ISO-8859-2 and UTF-8 share; comments, CDATA, processing instructions
 * and quoted attribute values are skipped so that a "<Deklaracja" inside
 * them does not count. libxml2 then checks everything else.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "tax.h"

#define S_DECL "Deklaracja"
#define S_DECL_LEN 10

/* ===========================================================================
 * Cutting the input into declarations
 */

typedef struct s_slice {
    size_t a, b; /* bytes of the element */
    int closed;  /* 1: ends with its end tag; 0: cut off by the end of the
                    input; -1: by the next <Deklaracja> */
} s_slice_t;

typedef struct s_scan {
    size_t root_a, root_end; /* the root's start tag: [root_a, root_end) */
    size_t qname_a, qname_len;
    int has_root;
    s_slice_t *slices;
    size_t n, cap;
} s_scan_t;

static size_t s_find(const uint8_t *d, size_t len, size_t from, const char *pat)
{
    size_t pl = strlen(pat);
    for (size_t i = from; i + pl <= len; i++)
        if (d[i] == (uint8_t)pat[0] && !memcmp(d + i, pat, pl))
            return i;
    return len;
}

static int s_namechar_end(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' ||
           c == '>';
}

static int s_push(s_scan_t *s, size_t a, size_t b, int closed)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        s_slice_t *n = realloc(s->slices, cap * sizeof(*n));
        if (!n)
            return RZ_ENOMEM;
        s->slices = n;
        s->cap = cap;
    }
    s->slices[s->n++] = (s_slice_t){a, b, closed};
    return 0;
}

static int s_scan(const uint8_t *d, size_t len, s_scan_t *s)
{
    size_t i = 0, start = 0;
    int depth = 0;
    while (i < len) {
        const uint8_t *lt = memchr(d + i, '<', len - i);
        if (!lt)
            break;
        i = (size_t)(lt - d);
        if (i + 4 <= len && !memcmp(d + i, "<!--", 4)) {
            size_t e = s_find(d, len, i + 4, "-->");
            i = e == len ? len : e + 3;
            continue;
        }
        if (i + 9 <= len && !memcmp(d + i, "<![CDATA[", 9)) {
            size_t e = s_find(d, len, i + 9, "]]>");
            i = e == len ? len : e + 3;
            continue;
        }
        if (i + 2 <= len && d[i + 1] == '?') {
            size_t e = s_find(d, len, i + 2, "?>");
            i = e == len ? len : e + 2;
            continue;
        }
        if (i + 2 <= len && d[i + 1] == '!') {
            /* <!DOCTYPE ... [ internal subset ] > */
            int br = 0;
            uint8_t q = 0;
            size_t j = i + 2;
            for (; j < len; j++) {
                uint8_t c = d[j];
                if (q) {
                    if (c == q)
                        q = 0;
                } else if (c == '"' || c == '\'') {
                    q = c;
                } else if (c == '[') {
                    br++;
                } else if (c == ']') {
                    br--;
                } else if (c == '>' && br <= 0) {
                    break;
                }
            }
            i = j < len ? j + 1 : len;
            continue;
        }
        /* a start or end tag */
        size_t j = i + 1;
        int end = j < len && d[j] == '/';
        if (end)
            j++;
        size_t na = j;
        while (j < len && !s_namechar_end(d[j]))
            j++;
        size_t nl = j - na;
        uint8_t q = 0;
        for (; j < len; j++) {
            if (q) {
                if (d[j] == q)
                    q = 0;
            } else if (d[j] == '"' || d[j] == '\'') {
                q = d[j];
            } else if (d[j] == '>') {
                break;
            }
        }
        size_t tag_end = j < len ? j + 1 : len;
        int empty = j < len && j > i && d[j - 1] == '/';
        if (!s->has_root && !end && nl) {
            s->has_root = 1;
            s->root_a = i;
            s->root_end = tag_end;
            s->qname_a = na;
            s->qname_len = nl;
        }
        /* the local name: after a namespace prefix */
        size_t la = na;
        for (size_t k = na; k < na + nl; k++)
            if (d[k] == ':')
                la = k + 1;
        if (na + nl - la == S_DECL_LEN && !memcmp(d + la, S_DECL, S_DECL_LEN)) {
            if (end) {
                if (depth > 0 && --depth == 0 &&
                    s_push(s, start, tag_end, j < len))
                    return RZ_ENOMEM;
            } else if (empty) {
                if (depth == 0 && s_push(s, i, tag_end, 1))
                    return RZ_ENOMEM;
            } else if (depth == 0) {
                depth = 1;
                start = i;
            } else {
                /* declarations do not nest: the one open has lost its end
                 * tag, and this one is a record of its own */
                if (s_push(s, start, i, -1))
                    return RZ_ENOMEM;
                depth = 1;
                start = i;
            }
        }
        i = tag_end;
    }
    if (depth > 0 && s_push(s, start, len, 0))
        return RZ_ENOMEM;
    return 0;
}

/* ===========================================================================
 * Reading one declaration
 */

typedef struct s_decl {
    rz_tax_t *t;
    rz_tax_doc_t *doc;
    char why[600];
} s_decl_t;

static int s_why(s_decl_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_why(s_decl_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof(x->why), fmt, ap);
    va_end(ap);
    return -1;
}

static int s_is(const xmlNode *n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE &&
           !strcmp((const char *)n->name, local);
}

static xmlNode *s_child(const xmlNode *n, const char *local)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (s_is(c, local))
            return c;
    return NULL;
}

/* The trimmed text of n into buf; 0 or -1 (too long). */
static int s_content(s_decl_t *x, const xmlNode *n, const char *path, char *buf,
                     size_t cap)
{
    xmlChar *c = xmlNodeGetContent(n);
    int rc = rz__tax_copy_trim(buf, cap, c ? (const char *)c : "",
                               c ? strlen((const char *)c) : 0);
    xmlFree(c);
    if (rc)
        return s_why(x, "%s is longer than %zu bytes", path, cap - 1);
    return 0;
}

/* The text of child `name` of n: 1 when present and not blank, 0 when
 * absent or blank, -1 on error. */
static int s_opt(s_decl_t *x, const xmlNode *n, const char *parent,
                 const char *name, char *buf, size_t cap)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", parent, name);
    buf[0] = '\0';
    xmlNode *c = s_child(n, name);
    if (!c)
        return 0;
    if (s_content(x, c, path, buf, cap))
        return -1;
    return *buf != '\0';
}

static int s_req(s_decl_t *x, const xmlNode *n, const char *parent,
                 const char *name, char *buf, size_t cap)
{
    int rc = s_opt(x, n, parent, name, buf, cap);
    if (rc == 0)
        return s_why(x, "%s/%s is missing", parent, name);
    return rc < 0 ? -1 : 0;
}

/* NIP as people write it: "123-456-32-18", "123 456 32 18". */
static void s_strip_separators(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++)
        if (*p != '-' && *p != ' ')
            *o++ = *p;
    *o = '\0';
}

static int s_header(s_decl_t *x, const xmlNode *decl, int *correction)
{
    rz_tax_doc_t *doc = x->doc;
    char buf[RZ_TAX_TEXT], why[200];
    const char *P = "Naglowek";
    xmlNode *h = s_child(decl, P);
    if (!h)
        return s_why(x, "%s", "Naglowek is missing");
    if (s_req(x, h, P, "KodFormularza", buf, sizeof(buf)))
        return -1;
    if (strcmp(buf, "DN-1") && strcmp(buf, "IN-1"))
        return s_why(x, "Naglowek/KodFormularza: '%.32s' is not DN-1 or IN-1",
                     buf);
    memcpy(doc->form, buf, strlen(buf) + 1);
    if (s_req(x, h, P, "CelZlozenia", buf, sizeof(buf)))
        return -1;
    if (strcmp(buf, "1") && strcmp(buf, "2"))
        return s_why(x,
                     "Naglowek/CelZlozenia: '%.32s' is not 1 (deklaracja) "
                     "or 2 (korekta)",
                     buf);
    *correction = buf[0] == '2';
    int64_t year;
    if (s_req(x, h, P, "Rok", buf, sizeof(buf)))
        return -1;
    if (strlen(buf) != 4 || rz__tax_digits(buf, &year, why, sizeof(why)) ||
        year < 1988)
        return s_why(x, "Naglowek/Rok: '%.32s' is not a tax year (1988 on)",
                     buf);
    doc->tax_year = (int)year;
    if (s_req(x, h, P, "NumerDokumentu", doc->document_id,
              sizeof(doc->document_id)))
        return -1;
    if (s_req(x, h, P, "DataZlozenia", buf, sizeof(buf)))
        return -1;
    if (rz__tax_date(buf, &doc->time, why, sizeof(why)))
        return s_why(x, "Naglowek/DataZlozenia: %s", why);
    xmlNode *organ = s_child(h, "OrganPodatkowy");
    xmlChar *code = organ ? xmlGetProp(organ, BAD_CAST "kodTERYT") : NULL;
    if (code) {
        char c[32];
        int bad = rz__tax_copy_trim(c, sizeof(c), (const char *)code,
                                    strlen((const char *)code));
        xmlFree(code);
        size_t n = bad ? 0 : strlen(c);
        for (size_t i = 0; i < n; i++)
            if (c[i] < '0' || c[i] > '9')
                n = 0;
        if (n != 7)
            return s_why(x,
                         "Naglowek/OrganPodatkowy/@kodTERYT: '%.32s' is "
                         "not the TERC code of a gmina (7 digits)",
                         bad ? "(too long)" : c);
        /* the declaration says whose it is: tax.tenant is only the
         * fallback for one that does not */
        memcpy(doc->tenant, c, 8);
    }
    return 0;
}

static int s_address(s_decl_t *x, const xmlNode *p)
{
    char street[RZ_TAX_TEXT], house[32], flat[32], town[RZ_TAX_TEXT];
    char code[16], post[RZ_TAX_TEXT];
    const char *P = "Podmiot1/AdresZamieszkaniaSiedziby/AdresPol";
    xmlNode *a = s_child(s_child(p, "AdresZamieszkaniaSiedziby"), "AdresPol");
    if (!a)
        return s_why(x, "%s is missing", P);
    if (s_opt(x, a, P, "Ulica", street, sizeof(street)) < 0 ||
        s_req(x, a, P, "NrDomu", house, sizeof(house)) ||
        s_opt(x, a, P, "NrLokalu", flat, sizeof(flat)) < 0 ||
        s_req(x, a, P, "Miejscowosc", town, sizeof(town)) ||
        s_req(x, a, P, "KodPocztowy", code, sizeof(code)) ||
        s_opt(x, a, P, "Poczta", post, sizeof(post)) < 0)
        return -1;
    /* as on an envelope: "ul. Przykładowa 1/2, 84-150 Hel"; in a village
     * without streets the place comes first: "Testowo 12, 84-150 Hel" */
    int n = snprintf(x->doc->address, sizeof(x->doc->address),
                     "%s %s%s%s, %s %s", *street ? street : town, house,
                     *flat ? "/" : "", flat, code, *post ? post : town);
    if (n < 0 || (size_t)n >= sizeof(x->doc->address))
        return s_why(x, "%s is longer than %zu bytes", P,
                     sizeof(x->doc->address) - 1);
    return 0;
}

/* An identifier into dst (cap bytes) after check(); "" when absent and
 * optional. */
static int s_ident(s_decl_t *x, const xmlNode *n, const char *path,
                   const char *name, int required, int strip,
                   int (*check)(const char *, char *, size_t), char *dst,
                   size_t cap)
{
    char buf[64], why[200] = "";
    int rc = required ? s_req(x, n, path, name, buf, sizeof(buf))
                      : s_opt(x, n, path, name, buf, sizeof(buf));
    if (rc < 0)
        return -1;
    if (!*buf)
        return 0;
    if (strip)
        s_strip_separators(buf);
    if (check(buf, why, sizeof(why)) || strlen(buf) >= cap)
        return s_why(x, "%s/%s: %s", path, name, why);
    memcpy(dst, buf, strlen(buf) + 1);
    return 0;
}

static int s_taxpayer(s_decl_t *x, const xmlNode *decl)
{
    rz_tax_doc_t *doc = x->doc;
    char given[RZ_TAX_TEXT], surname[RZ_TAX_TEXT];
    xmlNode *p = s_child(decl, "Podmiot1");
    if (!p)
        return s_why(x, "%s", "Podmiot1 (the taxpayer) is missing");
    if (s_child(decl, "Podmiot2"))
        return s_why(x, "%s",
                     "Podmiot2 (a second taxpayer, e.g. a co-owner) is "
                     "present: TaxAssessment carries one taxpayer");
    xmlNode *f = s_child(p, "OsobaFizyczna");
    xmlNode *o = s_child(p, "OsobaNiefizyczna");
    if (f && o)
        return s_why(x, "%s",
                     "Podmiot1 holds both OsobaFizyczna and "
                     "OsobaNiefizyczna");
    if (f) {
        const char *P = "Podmiot1/OsobaFizyczna";
        doc->person = 1;
        if (s_ident(x, f, P, "PESEL", 1, 0, rz__tax_pesel_check, doc->pesel,
                    sizeof(doc->pesel)) ||
            s_req(x, f, P, "ImiePierwsze", given, sizeof(given)) ||
            s_req(x, f, P, "Nazwisko", surname, sizeof(surname)) ||
            s_ident(x, f, P, "NIP", 0, 1, rz__tax_nip_check, doc->nip,
                    sizeof(doc->nip)))
            return -1;
        int n = snprintf(doc->name, sizeof(doc->name), "%s %s", given, surname);
        if (n < 0 || (size_t)n >= sizeof(doc->name))
            return s_why(x, "%s: the name is longer than %zu bytes", P,
                         sizeof(doc->name) - 1);
    } else if (o) {
        const char *P = "Podmiot1/OsobaNiefizyczna";
        doc->person = 0;
        if (s_ident(x, o, P, "NIP", 1, 1, rz__tax_nip_check, doc->nip,
                    sizeof(doc->nip)) ||
            s_req(x, o, P, "PelnaNazwa", doc->name, sizeof(doc->name)) ||
            s_ident(x, o, P, "REGON", 0, 0, rz__tax_regon_check, doc->regon,
                    sizeof(doc->regon)))
            return -1;
    } else {
        return s_why(x, "%s",
                     "Podmiot1 holds neither OsobaFizyczna nor "
                     "OsobaNiefizyczna");
    }
    if (s_opt(x, p, "Podmiot1", "NumerKontaPodatnika", doc->account,
              sizeof(doc->account)) < 0)
        return -1;
    return s_address(x, p);
}

/* A decimal child of n scaled by 10^scale into v; 0 when it is absent and
 * not required. */
static int s_amount(s_decl_t *x, const xmlNode *n, const char *path,
                    const char *name, int scale, int required, int64_t *v)
{
    char buf[64], why[160];
    int rc = s_opt(x, n, path, name, buf, sizeof(buf));
    if (rc < 0)
        return -1;
    if (rc == 0) {
        *v = 0;
        return required ? s_why(x, "%s/%s is missing", path, name) : 0;
    }
    if (rz__tax_decimal(buf, scale, v, why, sizeof(why)))
        return s_why(x, "%s/%s: %s", path, name, why);
    return 0;
}

static int s_object(s_decl_t *x, const xmlNode *n, const char *path,
                    int amounts, rz_tax_object_t *o)
{
    rz_tax_doc_t *doc = x->doc;
    char buf[64], why[200], terc[8];
    char kind = s_is(n, "Grunt") ? 'G' : s_is(n, "Budynek") ? 'B' : 'L';
    memset(o, 0, sizeof(*o));
    snprintf(o->kind, sizeof(o->kind), "%s",
             kind == 'G'   ? "grunt"
             : kind == 'B' ? "budynek"
                           : "budowla");
    int rc = kind == 'L' ? s_opt(x, n, path, "IdentyfikatorDzialki",
                                 o->parcel_id, sizeof(o->parcel_id))
                         : s_req(x, n, path, "IdentyfikatorDzialki",
                                 o->parcel_id, sizeof(o->parcel_id));
    if (rc < 0)
        return -1;
    if (*o->parcel_id) {
        if (rz__tax_parcel_check(o->parcel_id, terc, why, sizeof(why)))
            return s_why(x, "%s/IdentyfikatorDzialki: %s", path, why);
        if (!*doc->tenant)
            memcpy(doc->tenant, terc, 8);
        if (memcmp(doc->tenant, terc, 6))
            return s_why(x,
                         "%s/IdentyfikatorDzialki: parcel %s lies in "
                         "TERYT unit %s, not in gmina %s of the organ "
                         "podatkowy",
                         path, o->parcel_id, terc, doc->tenant);
    }
    if (kind != 'G' &&
        s_opt(x, n, path,
              kind == 'B' ? "IdentyfikatorBudynku" : "IdentyfikatorBudowli",
              o->building_id, sizeof(o->building_id)) < 0)
        return -1;
    if (s_req(x, n, path, "Rodzaj", buf, sizeof(buf)))
        return -1;
    const char *use = rz__tax_use(kind, buf);
    if (!use)
        return s_why(x, "%s/Rodzaj: '%.32s' is not a category of %s", path, buf,
                     o->kind);
    snprintf(o->use, sizeof(o->use), "%s", use);

    if (kind == 'L') {
        snprintf(o->base_unit, sizeof(o->base_unit), "%s", "PLN");
        if (s_amount(x, n, path, "Wartosc", 3, 1, &o->base_milli))
            return -1;
        /* a percentage, "2%" or "2": per mille in rate_grosze (the
         * schema's "x1000 for fractions") */
        if (s_opt(x, n, path, "Stawka", buf, sizeof(buf)) < 0)
            return -1;
        size_t l = strlen(buf);
        while (l && (buf[l - 1] == '%' || buf[l - 1] == ' '))
            buf[--l] = '\0';
        if (!*buf) {
            if (amounts)
                return s_why(x, "%s/Stawka is missing", path);
        } else if (rz__tax_decimal(buf, 1, &o->rate_grosze, why, sizeof(why))) {
            return s_why(x, "%s/Stawka (percent): %s", path, why);
        }
    } else {
        xmlNode *a = s_child(n, "Powierzchnia");
        if (!a)
            return s_why(x, "%s/Powierzchnia is missing", path);
        xmlChar *u = xmlGetProp(a, BAD_CAST "jednostka");
        snprintf(o->base_unit, sizeof(o->base_unit), "%s",
                 !u                               ? "m2"
                 : !strcmp((const char *)u, "m2") ? "m2"
                 : !strcmp((const char *)u, "ha") ? "ha"
                                                  : "?");
        xmlFree(u);
        if (!strcmp(o->base_unit, "?") ||
            (kind == 'B' && strcmp(o->base_unit, "m2")))
            return s_why(x, "%s/Powierzchnia/@jednostka is not %s", path,
                         kind == 'B' ? "m2" : "m2 or ha");
        char area[64];
        if (s_content(x, a, path, area, sizeof(area)))
            return -1;
        if (!*area)
            return s_why(x, "%s/Powierzchnia is missing", path);
        if (rz__tax_decimal(area, 3, &o->base_milli, why, sizeof(why))) {
            if (!strcmp(o->base_unit, "ha") && strstr(why, "decimal"))
                return s_why(x,
                             "%s/Powierzchnia: '%s' ha has a non-zero 4th "
                             "decimal place, finer than "
                             "TaxObject.base_milli (thousandths) holds",
                             path, area);
            return s_why(x, "%s/Powierzchnia: %s", path, why);
        }
        if (s_amount(x, n, path, "Stawka", 2, amounts, &o->rate_grosze))
            return -1;
    }
    return s_amount(x, n, path, "KwotaPodatku", 2, amounts, &o->tax_grosze);
}

static int s_objects(s_decl_t *x, const xmlNode *decl)
{
    rz_tax_doc_t *doc = x->doc;
    int amounts = !strcmp(doc->form, "DN-1");
    xmlNode *list = s_child(decl, "PrzedmiotyOpodatkowania");
    if (!list)
        return s_why(x, "%s", "PrzedmiotyOpodatkowania is missing");
    int64_t sum = 0;
    size_t ng = 0, nb = 0, nl = 0;
    for (xmlNode *c = list->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        size_t *k = s_is(c, "Grunt")     ? &ng
                    : s_is(c, "Budynek") ? &nb
                    : s_is(c, "Budowla") ? &nl
                                         : NULL;
        if (!k)
            return s_why(x,
                         "PrzedmiotyOpodatkowania/%.64s is not a taxed "
                         "object (Grunt, Budynek, Budowla)",
                         (const char *)c->name);
        if (doc->n_objects == RZ_TAX_OBJECTS)
            return s_why(x, "more than %d taxed objects", RZ_TAX_OBJECTS);
        char path[96];
        snprintf(path, sizeof(path), "PrzedmiotyOpodatkowania/%s[%zu]",
                 (const char *)c->name, ++*k);
        rz_tax_object_t *o = &doc->objects[doc->n_objects++];
        if (s_object(x, c, path, amounts, o))
            return -1;
        sum += o->tax_grosze;
    }
    if (doc->n_objects == 0)
        return s_why(x, "%s", "PrzedmiotyOpodatkowania lists no object");
    int64_t total;
    if (s_amount(x, decl, "Deklaracja", "LacznaKwotaPodatku", 2, amounts,
                 &total))
        return -1;
    if (!amounts && !s_child(decl, "LacznaKwotaPodatku"))
        return 0;
    /* section E is in whole złoty, rounded by art. 63 of the Ordynacja
     * podatkowa: a total that disagrees with the objects means a form
     * filled in wrong or read wrong, and either way not one to publish */
    int64_t want = rz__tax_round_zloty(sum);
    if (total % 100 || total / 100 != want)
        return s_why(x,
                     "LacznaKwotaPodatku: %lld,%02lld zł is not the "
                     "objects' %lld,%02lld zł rounded to whole złoty "
                     "(%lld)",
                     (long long)(total / 100), (long long)(total % 100),
                     (long long)(sum / 100), (long long)(sum % 100),
                     (long long)want);
    return 0;
}

static int s_declaration(s_decl_t *x, const xmlNode *decl)
{
    rz_tax_doc_t *doc = x->doc;
    int correction = 0;
    memset(doc, 0, offsetof(rz_tax_doc_t, objects));
    if (s_header(x, decl, &correction) || s_taxpayer(x, decl) ||
        s_objects(x, decl))
        return -1;
    if (!*doc->tenant)
        memcpy(doc->tenant, x->t->tenant, 8);
    if (!*doc->tenant)
        return s_why(x, "%s",
                     "no tenant: no OrganPodatkowy/@kodTERYT, no "
                     "parcel id and no tax.tenant configured");
    doc->type = correction ? "pl.gov.gmina.tax.correction.v1"
                           : "pl.gov.gmina.tax.declaration.v1";
    int n = snprintf(doc->id_prefix, sizeof(doc->id_prefix), "%s/%s", doc->form,
                     doc->document_id);
    if (n < 0 || n > RZ_ID_MAX)
        return s_why(x,
                     "Naglowek/NumerDokumentu: '%.40s...' makes an event "
                     "id longer than %d bytes",
                     doc->document_id, RZ_ID_MAX);
    return 0;
}

/* ===========================================================================
 * The input
 */

/* The first error libxml2 reports for a document: the later ones are
 * mostly consequences of it ("Premature end of data" after a mismatched
 * tag), and ctx->lastError keeps only the last. It comes through the
 * structured error handler, which also catches what libxml2 reports
 * without a parser context (a byte the declared encoding does not have)
 * and would otherwise print to stderr. */
typedef struct s_xerr {
    int set, line;
    char msg[320];
} s_xerr_t;

static void s_on_xml_error(void *user, xmlErrorPtr e)
{
    s_xerr_t *x = user;
    if (!x || x->set || !e || e->level < XML_ERR_ERROR)
        return;
    const char *m = e->message ? e->message : "unknown error";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(x->msg, sizeof(x->msg), "%.*s", (int)(n > 300 ? 300 : n), m);
    x->line = e->line;
    x->set = 1;
}

/* xmlCtxtReadMemory, but with the first line numbered `line`: a
 * declaration is parsed out of its batch, and libxml2's messages ("tag
 * mismatch: PelnaNazwa line 58") should count the batch's lines. What
 * xmlCtxtReadMemory does inside (xmlDoRead) is done here with the public
 * API so that the input stream's line can be set first. */
static xmlDocPtr s_read_xml(xmlParserCtxtPtr ctx, s_xerr_t *xe,
                            const uint8_t *b, size_t len, const char *name,
                            const char *enc, uint64_t line)
{
    const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                     XML_PARSE_NOCDATA;
    memset(xe, 0, sizeof(*xe));
    /* libxml2 keeps the handler per thread: set it for this call only */
    xmlStructuredErrorFunc old = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(xe, s_on_xml_error);
    xmlDocPtr doc = NULL;
    xmlCtxtReset(ctx);
    xmlParserInputBufferPtr ib = xmlParserInputBufferCreateMem(
        (const char *)b, (int)len, XML_CHAR_ENCODING_NONE);
    xmlParserInputPtr st =
        ib ? xmlNewIOInputStream(ctx, ib, XML_CHAR_ENCODING_NONE) : NULL;
    if (!st) {
        if (ib)
            xmlFreeParserInputBuffer(ib);
        snprintf(xe->msg, sizeof(xe->msg), "%s", "out of memory");
        goto done;
    }
    st->line = line > 0 && line < INT_MAX ? (int)line : 1;
    if (inputPush(ctx, st) < 0) {
        xmlFreeInputStream(st);
        snprintf(xe->msg, sizeof(xe->msg), "%s", "out of memory");
        goto done;
    }
    xmlCtxtUseOptions(ctx, opts);
    if (enc) {
        xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(enc);
        if (!h) {
            snprintf(xe->msg, sizeof(xe->msg), "unknown encoding %.64s", enc);
            goto done;
        }
        xmlSwitchToEncoding(ctx, h);
    }
    if (name && !ctx->input->filename)
        ctx->input->filename = (char *)xmlStrdup((const xmlChar *)name);
    xmlParseDocument(ctx);
    doc = ctx->myDoc;
    ctx->myDoc = NULL;
    if (!ctx->wellFormed) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
done:
    xmlSetStructuredErrorFunc(old_ctx, old);
    if (!doc && !xe->set && !*xe->msg)
        snprintf(xe->msg, sizeof(xe->msg), "%s", "unknown error");
    if (!doc && !xe->set)
        xe->line = ctx->lastError.line;
    return doc;
}

static int s_has_prolog(const uint8_t *d, size_t len)
{
    size_t i = len >= 3 && !memcmp(d, "\xef\xbb\xbf", 3) ? 3 : 0;
    return len - i >= 5 && !memcmp(d + i, "<?xml", 5);
}

/* 1 when the prolog names UTF-8 or no encoding (UTF-8 by the XML rules). */
static int s_prolog_utf8(const uint8_t *d, size_t len)
{
    const uint8_t *end = memchr(d, '>', len);
    size_t n = end ? (size_t)(end - d) : 0;
    for (size_t i = 0; i + 9 < n; i++) {
        if (memcmp(d + i, "encoding", 8))
            continue;
        size_t k = i + 8;
        while (k < n &&
               (d[k] == ' ' || d[k] == '=' || d[k] == '"' || d[k] == '\''))
            k++;
        return n - k >= 5 && (!strncasecmp((const char *)d + k, "UTF-8", 5) ||
                              !strncasecmp((const char *)d + k, "UTF8", 4));
    }
    return 1;
}

int rz__tax_declaration_parse(rz_tax_t *t, const rz_input_t *in, rz_out_t *out,
                              char *err, size_t err_len)
{
    const uint8_t *d = in->data;
    size_t len = in->len;
    s_scan_t s = {0};
    rzc_text_t fixed = {0}; /* the current declaration, repaired */
    int rc = s_scan(d, len, &s);
    xmlParserCtxtPtr ctx = NULL;
    rz_tax_doc_t *doc = NULL;
    uint8_t *buf = NULL;
    if (rc) {
        snprintf(err, err_len, "%s", "out of memory");
        goto done;
    }
    s_xerr_t xe;
    if (!(ctx = xmlNewParserCtxt()) || !(doc = malloc(sizeof(*doc)))) {
        rc = RZ_ENOMEM;
        snprintf(err, err_len, "%s", "out of memory");
        goto done;
    }
    if (len > INT_MAX) {
        rc = RZ_ETOOBIG;
        snprintf(err, err_len, "%s", "input larger than 2 GiB");
        goto done;
    }
    if (s.n == 0) {
        /* say what the input is instead */
        xmlDocPtr x = s_read_xml(ctx, &xe, d, len, in->name, NULL,
                                 in->first_line ? in->first_line : 1);
        if (!x) {
            snprintf(err, err_len, "not well-formed XML: %s (line %d)", xe.msg,
                     xe.line);
        } else {
            xmlNode *r = xmlDocGetRootElement(x);
            snprintf(err, err_len,
                     "no <Deklaracja> in the root element <%.64s>: not a "
                     "property-tax declaration",
                     r ? (const char *)r->name : "");
            xmlFreeDoc(x);
        }
        rc = RZ_EINVAL;
        goto done;
    }

    /* a declaration cut out of its batch (a quarantined record retried)
     * has no prolog: its encoding is decided from its bytes, or is the
     * configured one. A UTF-8 document is repaired declaration by
     * declaration (below), so that one field in Windows-1250 neither
     * spoils the others nor makes the declaration unreadable. */
    const char *enc = NULL;
    int utf8 = 1;
    if (s_has_prolog(d, len)) {
        utf8 = s_prolog_utf8(d, len);
    } else if (!rzc_utf8_valid(d, len)) {
        int core = rz__tax_encoding(t->encoding);
        rzc_text_t probe;
        if (core == RZC_ENC_AUTO &&
            rzc_text_decode(&probe, d, len, core, err, err_len) == 0) {
            utf8 = strncmp(probe.encoding, "UTF-8", 5) == 0;
            rzc_text_free(&probe);
        } else {
            utf8 = core == RZC_ENC_UTF8;
        }
        if (!utf8)
            enc = core == RZC_ENC_AUTO ? "WINDOWS-1250" : t->encoding;
    }

    int alone = s.has_root && s.root_a == s.slices[0].a;
    size_t head = alone ? s.root_a : s.root_end;
    size_t cap = 0;
    uint64_t first = in->first_line ? in->first_line : 1, line = first;
    size_t counted = 0, head_nl = 0;
    for (size_t k = 0; k < head; k++)
        head_nl += d[k] == '\n';
    for (size_t i = 0; i < s.n; i++) {
        const s_slice_t *sl = &s.slices[i];
        for (; counted < sl->a; counted++)
            if (d[counted] == '\n')
                line++;
        char key[40];
        snprintf(key, sizeof(key), "Deklaracja[%zu]", i + 1);
        rz_record_ref_t ref = {line, key, d + sl->a, sl->b - sl->a};
        if (sl->closed != 1) {
            rz_out_quarantine(out, &ref,
                              sl->closed < 0
                                  ? "truncated: <Deklaracja> has no end tag "
                                    "before the next <Deklaracja>"
                                  : "truncated: <Deklaracja> has no end tag "
                                    "before the end of the input");
            continue;
        }
        const uint8_t *body = d + sl->a;
        size_t body_len = sl->b - sl->a;
        rzc_text_free(&fixed);
        if (utf8 && !rzc_utf8_valid(body, body_len)) {
            char why[200];
            rc = rzc_text_decode(&fixed, body, body_len, RZC_ENC_UTF8, why,
                                 sizeof(why));
            if (rc) {
                snprintf(err, err_len, "%s", why);
                goto done;
            }
            if (fixed.n_bad) {
                size_t at = sl->a + fixed.bad[0];
                snprintf(why, sizeof(why),
                         "byte 0x%02x at offset %zu is neither UTF-8 nor "
                         "Windows-1250",
                         d[at], at);
                rz_out_quarantine(out, &ref, why);
                continue;
            }
            body = (const uint8_t *)fixed.text;
            body_len = fixed.len;
        }
        /* head + (root start tag) + the declaration + (root end tag) */
        size_t need = head + body_len + s.qname_len + 4;
        if (need > cap) {
            uint8_t *n = realloc(buf, need);
            if (!n) {
                rc = RZ_ENOMEM;
                snprintf(err, err_len, "%s", "out of memory");
                goto done;
            }
            buf = n;
            cap = need;
        }
        memcpy(buf, d, head);
        size_t o = head;
        memcpy(buf + o, body, body_len);
        o += body_len;
        if (!alone) {
            buf[o++] = '<';
            buf[o++] = '/';
            memcpy(buf + o, d + s.qname_a, s.qname_len);
            o += s.qname_len;
            buf[o++] = '>';
        }
        if (o > INT_MAX) {
            rz_out_quarantine(out, &ref,
                              "the declaration is larger than "
                              "2 GiB");
            continue;
        }
        /* numbered so that the declaration's first line is its line in
         * the input (the lines of the head come before it) */
        xmlDocPtr x =
            s_read_xml(ctx, &xe, buf, o, in->name, enc, line - head_nl);
        if (!x) {
            char why[400];
            snprintf(why, sizeof(why), "not well-formed XML: %s", xe.msg);
            rz_out_quarantine(out, &ref, why);
            continue;
        }
        s_decl_t dx = {.t = t, .doc = doc};
        xmlNode *root = xmlDocGetRootElement(x);
        xmlNode *decl = s_is(root, S_DECL) ? root : s_child(root, S_DECL);
        if (x->intSubset || x->extSubset) {
            s_why(&dx, "%s", "a DOCTYPE is not allowed in a declaration");
            rz_out_quarantine(out, &ref, dx.why);
        } else if (!decl) {
            rz_out_quarantine(out, &ref, "no <Deklaracja> element");
        } else if (s_declaration(&dx, decl)) {
            rz_out_quarantine(out, &ref, dx.why);
        } else {
            char why[300];
            int e = rz__tax_emit(doc, &ref, out, why, sizeof(why));
            if (e == RZ_ENOMEM) {
                xmlFreeDoc(x);
                rc = e;
                snprintf(err, err_len, "%s", "out of memory");
                goto done;
            }
            if (e < 0)
                rz_out_quarantine(out, &ref, why);
        }
        xmlFreeDoc(x);
    }
done:
    rzc_text_free(&fixed);
    free(buf);
    free(doc);
    free(s.slices);
    if (ctx)
        xmlFreeParserCtxt(ctx);
    return rc;
}
