/* gml.c - GML 3.2 exports of the Polish land register (EGiB, "GML wersja
 * 2.0" of the starostwa) to GisFeature events.
 *
 * An export is a gml:FeatureCollection of gml:featureMember elements:
 * parcels (egb:EGB_DzialkaEwidencyjna), buildings, ..., and cartographic
 * labels (bt:KR_ObiektKarto) that point at the object they label. Every
 * feature member is one record; a label is part of the object it labels
 * (its text is the object's name) and a record of its own only when that
 * object is not in the file, in which case it is quarantined.
 *
 * libxml2 parses each member, with the collection's own start tag around
 * it so that its namespaces are declared, and XPath reads it. Before that a
 * small tokenizer finds where each member starts and ends in the original
 * bytes: libxml2 keeps no byte offsets, and the quarantine needs each
 * record's own bytes; parsing members one by one also keeps a member that
 * is broken or cut off from taking the others with it.
 *
 * Coordinates are kept exactly as written and in the CRS's own axis order
 * (PL-2000, EPSG:2177: northing first, axis_order "yx"); xsi:nil elements
 * are absent; xlink:href references to objects outside the file are kept
 * as properties (the URN), never fetched.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "gis.h"

#define S_NS_GML "http://www.opengis.net/gml/3.2"
#define S_NS_EGB "urn:gugik:specyfikacje:gmlas:ewidencjaGruntowBudynkow:1.0"
#define S_NS_BT "urn:gugik:specyfikacje:gmlas:modelPodstawowy:1.0"
#define S_NS_XLINK "http://www.w3.org/1999/xlink"
#define S_NS_XSI "http://www.w3.org/2001/XMLSchema-instance"

/* ---------------------------------------------------------------------------
 * Where the members are
 */

typedef struct s_member {
    const char *p, *e;  /* the member's bytes */
    uint64_t line;      /* of p */
    char qname[96];     /* its element name as written */
    xmlDocPtr doc;      /* parsed (NULL: err) */
    xmlNodePtr feature; /* the feature element inside */
    char err[300];
    uint64_t unclosed; /* line of a tag that never closes, or 0 */
    int label;         /* a KR_ObiektKarto */
    int used;  /* a label attached to its object */
} s_member_t;

typedef struct s_scan {
    const char *b, *e;
    const char *root_p, *root_e; /* the root's start tag */
    char root_q[96];
    int root_empty;
    int root_closed; /* its end tag was seen: the file is not cut short */
    s_member_t *m;
    size_t n, cap;
} s_scan_t;

/* One markup construct at p ('<'). kind: 's' start tag, 'e' end tag,
 * 'x' empty element, 'o' other (comment, PI, CDATA, DOCTYPE). Returns the
 * position after it, or NULL when the input ends inside it. */
static const char *s_token(const char *p, const char *e, int *kind,
                           const char **name, size_t *name_len)
{
    static const struct {
        const char *open, *close;
    } other[] = {{"<!--", "-->"}, {"<![CDATA[", "]]>"}, {"<?", "?>"}};
    for (size_t i = 0; i < 3; i++) {
        size_t ol = strlen(other[i].open);
        if ((size_t)(e - p) >= ol && memcmp(p, other[i].open, ol) == 0) {
            const char *c = memmem(p + ol, (size_t)(e - p) - ol, other[i].close,
                                   strlen(other[i].close));
            *kind = 'o';
            return c ? c + strlen(other[i].close) : NULL;
        }
    }
    if (e - p >= 2 && p[1] == '!') { /* DOCTYPE, with an internal subset */
        int sq = 0;
        char quote = 0;
        for (const char *q = p + 2; q < e; q++) {
            if (quote) {
                if (*q == quote)
                    quote = 0;
            } else if (*q == '"' || *q == '\'') {
                quote = *q;
            } else if (*q == '[') {
                sq++;
            } else if (*q == ']') {
                sq--;
            } else if (*q == '>' && sq <= 0) {
                *kind = 'o';
                return q + 1;
            }
        }
        return NULL;
    }
    const char *q = p + 1;
    *kind = 's';
    if (q < e && *q == '/') {
        *kind = 'e';
        q++;
    }
    *name = q;
    while (q < e && *q && !strchr(" \t\r\n/>", *q))
        q++;
    *name_len = (size_t)(q - *name);
    char quote = 0;
    for (; q < e; q++) {
        if (quote) {
            if (*q == quote)
                quote = 0;
        } else if (*q == '"' || *q == '\'') {
            quote = *q;
        } else if (*q == '>') {
            if (q[-1] == '/' && *kind == 's')
                *kind = 'x';
            return q + 1;
        }
    }
    return NULL;
}

static int s_push(s_scan_t *s, const char *p, const char *name, size_t nl,
                  uint64_t line)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        void *n = realloc(s->m, cap * sizeof(*s->m));
        if (!n)
            return RZ_ENOMEM;
        s->m = n;
        s->cap = cap;
    }
    s_member_t *m = &s->m[s->n++];
    memset(m, 0, sizeof(*m));
    m->p = p;
    m->e = s->e;
    m->line = line;
    snprintf(m->qname, sizeof(m->qname), "%.*s",
             (int)(nl < sizeof(m->qname) ? nl : sizeof(m->qname) - 1), name);
    return 0;
}

/* Where the markup of a member stops making sense (a lost quote makes
 * the rest of the input one endless attribute): the next member with the
 * same name, else the root's end tag. Returns that '<', or NULL when
 * neither follows (the input is cut off). *root_end is set when it is the
 * root's end tag. */
static const char *s_resync(const s_scan_t *s, const char *from,
                            const char *member, int *root_end)
{
    char open[100], close[100];
    snprintf(open, sizeof(open), "<%s", member);
    snprintf(close, sizeof(close), "</%s", s->root_q);
    const char *const tags[] = {open, close};
    for (int t = 0; t < 2; t++) {
        size_t n = strlen(tags[t]);
        for (const char *q = from; q < s->e;) {
            q = memmem(q, (size_t)(s->e - q), tags[t], n);
            if (!q)
                break;
            if (q + n < s->e && strchr(" \t\r\n>/", q[n])) {
                *root_end = t == 1;
                return q;
            }
            q += n;
        }
    }
    return NULL;
}

/* Find the root's start tag and the span of each child of the root. A
 * child ends at its end tag; one that is cut off ends with the input, and
 * one whose end tag was lost ends where the next child with its name
 * starts (feature members do not nest). */
static int s_scan(s_scan_t *s)
{
    const char *p = s->b, *counted = s->b;
    uint64_t line = 1;
    int depth = 0;
    s_member_t *cur = NULL;
    while (p < s->e) {
        const char *lt = memchr(p, '<', (size_t)(s->e - p));
        if (!lt)
            break;
        for (; counted < lt; counted++)
            line += *counted == '\n';
        int kind;
        const char *name = NULL;
        size_t nl = 0;
        const char *next = s_token(lt, s->e, &kind, &name, &nl);
        if (!next) {
            if (!s->root_p)
                return -1;
            int root_end = 0;
            const char *at = cur ? s_resync(s, lt + 1, cur->qname, &root_end)
                                 : NULL;
            if (!at)
                break; /* cut off: the open member keeps the rest */
            /* not well-formed: the member ends where the next one starts,
             * and libxml2 says what is wrong with it */
            for (; counted < lt; counted++)
                line += *counted == '\n';
            cur->unclosed = line;
            cur->e = at;
            cur = NULL;
            depth = 1;
            p = at;
            if (root_end) {
                s->root_closed = 1;
                break;
            }
            continue;
        }
        if (kind == 'o') {
            p = next;
            continue;
        }
        if (depth == 0) {
            if (kind == 'e')
                return -1;
            if (s->root_p) /* a second root: libxml2 will say why */
                break;
            s->root_p = lt;
            s->root_e = next;
            snprintf(s->root_q, sizeof(s->root_q), "%.*s",
                     (int)(nl < sizeof(s->root_q) ? nl : sizeof(s->root_q) - 1),
                     name);
            if (kind == 'x') {
                s->root_empty = 1;
                s->root_closed = 1;
                return 0;
            }
            depth = 1;
        } else if (kind == 's' || kind == 'x') {
            if (cur && strlen(cur->qname) == nl &&
                memcmp(cur->qname, name, nl) == 0) {
                cur->e = lt; /* its end tag is lost */
                cur = NULL;
                depth = 1;
            }
            if (depth == 1) {
                if (s_push(s, lt, name, nl, line))
                    return RZ_ENOMEM;
                cur = &s->m[s->n - 1];
                if (kind == 'x') {
                    cur->e = next;
                    cur = NULL;
                } else {
                    depth = 2;
                }
            } else if (kind == 's') {
                depth++;
            }
        } else { /* end tag */
            if (cur && strlen(cur->qname) == nl &&
                memcmp(cur->qname, name, nl) == 0)
                depth = 2;
            if (--depth == 1 && cur) {
                cur->e = next;
                cur = NULL;
            }
            if (depth == 0) {
                s->root_closed = 1;
                break;
            }
        }
        p = next;
    }
    return s->root_p ? 0 : -1;
}

/* ---------------------------------------------------------------------------
 * Parsing one member
 */

static const char *s_local(const char *qname)
{
    const char *c = strchr(qname, ':');
    return c ? c + 1 : qname;
}

static int s_is(xmlNodePtr n, const char *ns, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 &&
           strcmp((const char *)n->name, local) == 0;
}

static xmlNodePtr s_first_elem(xmlNodePtr n)
{
    for (n = n ? n->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

/* libxml2's message with the wrapper's line numbers ("tag mismatch:
 * idDzialki line 25 and ...") made the input's, and no newline. */
static void s_remap_lines(char *out, size_t len, const char *msg,
                          uint64_t first, uint64_t member_line)
{
    size_t o = 0;
    for (const char *p = msg; *p && *p != '\n' && o + 1 < len;) {
        if (strncmp(p, " line ", 6) == 0 && p[6] >= '0' && p[6] <= '9') {
            char *end;
            unsigned long long n = strtoull(p + 6, &end, 10);
            if (n >= first)
                n = n - first + member_line;
            int w = snprintf(out + o, len - o, " line %llu", n);
            if (w < 0 || (size_t)w >= len - o)
                break;
            o += (size_t)w;
            p = end;
            continue;
        }
        out[o++] = *p++;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static void s_parse_member(s_scan_t *s, s_member_t *m, const char *name,
                           xmlParserCtxtPtr ctxt)
{
    size_t pro = (size_t)(s->root_e - s->b), ml = (size_t)(m->e - m->p);
    size_t rl = strlen(s->root_q);
    char *buf = malloc(pro + ml + rl + 4);
    if (!buf) {
        snprintf(m->err, sizeof(m->err), "out of memory");
        return;
    }
    memcpy(buf, s->b, pro);
    memcpy(buf + pro, m->p, ml);
    int n = sprintf(buf + pro + ml, "</%s>", s->root_q);
    m->doc = xmlCtxtReadMemory(ctxt, buf, (int)(pro + ml) + n, name, NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR |
                                   XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
    if (!m->doc) {
        xmlErrorPtr xe = xmlCtxtGetLastError(ctxt);
        /* the wrapper's line numbers: the prolog, then the member */
        uint64_t pl = 1;
        for (size_t i = 0; i < pro; i++)
            pl += buf[i] == '\n';
        uint64_t line = m->line;
        if (xe && (uint64_t)xe->line >= pl)
            line += (uint64_t)xe->line - pl;
        char msg[200] = "not well-formed";
        if (xe && xe->message)
            s_remap_lines(msg, sizeof(msg), xe->message, pl, m->line);
        int cut = m->e == s->e;
        char unclosed[96] = "";
        if (m->unclosed)
            snprintf(unclosed, sizeof(unclosed),
                     "the tag at line %" PRIu64 " never closes (a lost "
                     "quote?): ",
                     m->unclosed);
        snprintf(m->err, sizeof(m->err),
                 "%s%sXML error at line %" PRIu64 ": %s",
                 cut ? "the input ends inside this member (truncated): " : "",
                 unclosed, line, msg);
    } else {
        xmlNodePtr member = s_first_elem(xmlDocGetRootElement(m->doc));
        m->feature = s_first_elem(member);
        if (!m->feature) {
            xmlChar *href = member ? xmlGetNsProp(member, BAD_CAST "href",
                                                  BAD_CAST S_NS_XLINK)
                                   : NULL;
            if (href)
                snprintf(m->err, sizeof(m->err),
                         "a reference to a feature outside this file (%.200s); "
                         "not fetched",
                         (const char *)href);
            else
                snprintf(m->err, sizeof(m->err), "%s without a feature",
                         m->qname);
            xmlFree(href);
        } else {
            m->label = s_is(m->feature, S_NS_BT, "KR_ObiektKarto");
        }
    }
    free(buf);
}

/* Does the member hold a cartographic label (its first element is a
 * KR_ObiektKarto)? Read from the bytes, before parsing. */
static int s_label_hint(const s_scan_t *s, const s_member_t *m)
{
    int kind;
    const char *name = NULL, *p = m->p;
    size_t nl = 0;
    for (int tag = 0; tag < 2 && p && p < m->e; tag++) {
        do {
            p = memchr(p, '<', (size_t)(m->e - p));
            if (!p)
                return 0;
            p = s_token(p, m->e, &kind, &name, &nl);
        } while (p && kind == 'o');
    }
    (void)s;
    if (!p || kind == 'e')
        return 0;
    const char *colon = memchr(name, ':', nl);
    const char *local = colon ? colon + 1 : name;
    size_t ll = nl - (size_t)(local - name);
    return ll == 14 && memcmp(local, "KR_ObiektKarto", 14) == 0;
}

/* ---------------------------------------------------------------------------
 * XPath helpers
 */

static xmlXPathContextPtr s_xpath(xmlDocPtr doc)
{
    xmlXPathContextPtr x = xmlXPathNewContext(doc);
    if (!x)
        return NULL;
    xmlXPathRegisterNs(x, BAD_CAST "gml", BAD_CAST S_NS_GML);
    xmlXPathRegisterNs(x, BAD_CAST "egb", BAD_CAST S_NS_EGB);
    xmlXPathRegisterNs(x, BAD_CAST "bt", BAD_CAST S_NS_BT);
    xmlXPathRegisterNs(x, BAD_CAST "xlink", BAD_CAST S_NS_XLINK);
    xmlXPathRegisterNs(x, BAD_CAST "xsi", BAD_CAST S_NS_XSI);
    return x;
}

static int s_nil(xmlNodePtr n)
{
    xmlChar *v = xmlGetNsProp(n, BAD_CAST "nil", BAD_CAST S_NS_XSI);
    int nil =
        v && (strcmp((char *)v, "true") == 0 || strcmp((char *)v, "1") == 0);
    xmlFree(v);
    return nil;
}

/* The first node expr finds from node, or NULL. */
static xmlNodePtr s_find(xmlXPathContextPtr x, xmlNodePtr node,
                         const char *expr)
{
    x->node = node;
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, x);
    xmlNodePtr n = NULL;
    if (o && o->nodesetval && o->nodesetval->nodeNr > 0)
        n = o->nodesetval->nodeTab[0];
    xmlXPathFreeObject(o);
    return n;
}

/* The trimmed text of a node; malloc'd, NULL when nil or absent. */
static char *s_text(xmlNodePtr n)
{
    if (!n || s_nil(n))
        return NULL;
    xmlChar *c = xmlNodeGetContent(n);
    if (!c)
        return NULL;
    char *s = (char *)c, *e = s + strlen(s);
    while (*s && strchr(" \t\r\n", *s))
        s++;
    while (e > s && strchr(" \t\r\n", e[-1]))
        e--;
    char *r = strndup(s, (size_t)(e - s));
    xmlFree(c);
    return r;
}

static char *s_find_text(xmlXPathContextPtr x, xmlNodePtr node,
                         const char *expr)
{
    return s_text(s_find(x, node, expr));
}

/* ---------------------------------------------------------------------------
 * Geometry
 */

typedef struct s_geom {
    rzc_buf_t wkt;
    int epsg, yx, dim;
    double bb[4];
    int have;
    char why[300];
} s_geom_t;

static const char *const s_geom_names[] = {"Point",
                                           "LineString",
                                           "Polygon",
                                           "MultiSurface",
                                           "MultiPolygon",
                                           "MultiPoint",
                                           "MultiCurve",
                                           "Curve",
                                           "Surface",
                                           "CompositeSurface",
                                           "MultiGeometry",
                                           "OrientableSurface",
                                           NULL};

static xmlNodePtr s_find_geometry(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (c->ns && strcmp((const char *)c->ns->href, S_NS_GML) == 0)
            for (int i = 0; s_geom_names[i]; i++)
                if (strcmp((const char *)c->name, s_geom_names[i]) == 0)
                    return c;
        xmlNodePtr d = s_find_geometry(c);
        if (d)
            return d;
    }
    return NULL;
}

static int s_attr_int(xmlNodePtr n, const char *name, int def)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    int r = v ? atoi((const char *)v) : def;
    xmlFree(v);
    return r;
}

/* Positions of a posList, or of a sequence of pos, into the WKT as
 * "a b, c d"; min positions, closed when ring. */
static int s_positions(s_geom_t *g, xmlNodePtr holder, size_t min, int ring,
                       const char *what)
{
    rzc_buf_t toks = {0};
    int dim = g->dim;
    for (xmlNodePtr c = holder->children; c; c = c->next) {
        if (s_is(c, S_NS_GML, "posList") || s_is(c, S_NS_GML, "pos")) {
            dim = s_attr_int(c, "srsDimension", dim);
            xmlChar *t = xmlNodeGetContent(c);
            rzc_buf_puts(&toks, t ? (const char *)t : "");
            rzc_buf_puts(&toks, " ");
            xmlFree(t);
        } else if (s_is(c, S_NS_GML, "coordinates")) {
            snprintf(g->why, sizeof(g->why),
                     "%s: gml:coordinates is not supported (GML 3.2 uses "
                     "gml:posList)",
                     what);
            rzc_buf_free(&toks);
            return -1;
        }
    }
    if (dim < 2 || dim > 4) {
        snprintf(g->why, sizeof(g->why), "%s: srsDimension %d", what, dim);
        rzc_buf_free(&toks);
        return -1;
    }
    g->dim = dim;
    const char *p = toks.s ? toks.s : "";
    size_t n = 0, ntok = 0;
    double v[4], f[2] = {0, 0};
    int rc = 0;
    while (*p) {
        p += strspn(p, " \t\r\n");
        if (!*p)
            break;
        const char *t = p;
        p += strcspn(p, " \t\r\n");
        if (rz__gis_number(t, (size_t)(p - t), &v[ntok % dim])) {
            snprintf(g->why, sizeof(g->why), "%s: '%.*s' is not a number", what,
                     (int)((p - t) > 40 ? 40 : (p - t)), t);
            rc = -1;
            break;
        }
        if (ntok % dim == 0) {
            if (n)
                rzc_buf_puts(&g->wkt, ", ");
        } else {
            rzc_buf_puts(&g->wkt, " ");
        }
        rzc_buf_put(&g->wkt, t, (size_t)(p - t));
        if (++ntok % dim == 0) {
            char buf[200];
            const char *bad =
                rz__gis_check_pos(g->epsg, g->yx, v[0], v[1], buf, sizeof(buf));
            if (bad) {
                snprintf(g->why, sizeof(g->why), "%s: %s", what, bad);
                rc = -1;
                break;
            }
            if (!n)
                f[0] = v[0], f[1] = v[1];
            if (!g->have) {
                g->bb[0] = g->bb[2] = v[0];
                g->bb[1] = g->bb[3] = v[1];
                g->have = 1;
            }
            g->bb[0] = fmin(g->bb[0], v[0]);
            g->bb[1] = fmin(g->bb[1], v[1]);
            g->bb[2] = fmax(g->bb[2], v[0]);
            g->bb[3] = fmax(g->bb[3], v[1]);
            n++;
        }
    }
    if (!rc && ntok % dim) {
        snprintf(g->why, sizeof(g->why),
                 "%s: %zu numbers do not make positions of %d", what, ntok,
                 dim);
        rc = -1;
    } else if (!rc && n < min) {
        snprintf(g->why, sizeof(g->why),
                 "%s: %zu positions, at least %zu "
                 "needed",
                 what, n, min);
        rc = -1;
    } else if (!rc && ring && (v[0] != f[0] || v[1] != f[1])) {
        snprintf(g->why, sizeof(g->why), "%s: ring is not closed", what);
        rc = -1;
    }
    rzc_buf_free(&toks);
    return rc;
}

static int s_polygon(s_geom_t *g, xmlNodePtr poly)
{
    int rings = 0;
    rzc_buf_puts(&g->wkt, "(");
    for (xmlNodePtr c = poly->children; c; c = c->next) {
        int ext = s_is(c, S_NS_GML, "exterior");
        if (!ext && !s_is(c, S_NS_GML, "interior"))
            continue;
        if (ext != (rings == 0)) {
            snprintf(g->why, sizeof(g->why),
                     "gml:Polygon: the exterior ring must come first, once");
            return -1;
        }
        xmlNodePtr ring = s_first_elem(c);
        if (!s_is(ring, S_NS_GML, "LinearRing")) {
            snprintf(g->why, sizeof(g->why),
                     "gml:Polygon: %s ring is not a gml:LinearRing",
                     ext ? "exterior" : "interior");
            return -1;
        }
        rzc_buf_puts(&g->wkt, rings ? ", (" : "(");
        if (s_positions(g, ring, 4, 1, ext ? "exterior ring" : "interior ring"))
            return -1;
        rzc_buf_puts(&g->wkt, ")");
        rings++;
    }
    rzc_buf_puts(&g->wkt, ")");
    if (!rings) {
        snprintf(g->why, sizeof(g->why), "gml:Polygon without an exterior");
        return -1;
    }
    return 0;
}

/* Members of a multi-geometry: the children of each member property (or of
 * the plural members property) that are named part. */
static int s_multi(s_geom_t *g, xmlNodePtr multi, const char *part,
                   int (*fn)(s_geom_t *, xmlNodePtr))
{
    int n = 0;
    rzc_buf_puts(&g->wkt, "(");
    for (xmlNodePtr m = multi->children; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        for (xmlNodePtr c = m->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!s_is(c, S_NS_GML, part)) {
                snprintf(g->why, sizeof(g->why),
                         "gml:%s: a member gml:%s is not supported",
                         (const char *)multi->name, (const char *)c->name);
                return -1;
            }
            if (n++)
                rzc_buf_puts(&g->wkt, ", ");
            if (fn(g, c))
                return -1;
        }
    }
    rzc_buf_puts(&g->wkt, ")");
    if (!n) {
        snprintf(g->why, sizeof(g->why), "gml:%s without members",
                 (const char *)multi->name);
        return -1;
    }
    return 0;
}

static int s_point_body(s_geom_t *g, xmlNodePtr pt)
{
    rzc_buf_puts(&g->wkt, "(");
    int rc = s_positions(g, pt, 1, 0, "gml:Point");
    rzc_buf_puts(&g->wkt, ")");
    return rc;
}

static int s_line_body(s_geom_t *g, xmlNodePtr ls)
{
    rzc_buf_puts(&g->wkt, "(");
    int rc = s_positions(g, ls, 2, 0, "gml:LineString");
    rzc_buf_puts(&g->wkt, ")");
    return rc;
}

/* The geometry as WKT. Returns the WKT type name ("POLYGON"), or NULL with
 * the reason in g->why. */
static const char *s_geometry(s_geom_t *g, xmlNodePtr geom)
{
    const char *name = (const char *)geom->name;
    const char *type = NULL;
    int rc;
    g->dim = s_attr_int(geom, "srsDimension", 2);
    /* the type, then " Z" for 3D, is known only once the positions are
     * read: write the body first and the prefix after */
    rzc_buf_t body = g->wkt;
    memset(&g->wkt, 0, sizeof(g->wkt));
    if (strcmp(name, "Point") == 0) {
        type = "Point";
        rc = s_point_body(g, geom);
    } else if (strcmp(name, "LineString") == 0) {
        type = "LineString";
        rc = s_line_body(g, geom);
    } else if (strcmp(name, "Polygon") == 0) {
        type = "Polygon";
        rc = s_polygon(g, geom);
    } else if (strcmp(name, "MultiSurface") == 0 ||
               strcmp(name, "MultiPolygon") == 0) {
        type = "MultiPolygon";
        rc = s_multi(g, geom, "Polygon", s_polygon);
    } else if (strcmp(name, "MultiPoint") == 0) {
        type = "MultiPoint";
        rc = s_multi(g, geom, "Point", s_point_body);
    } else if (strcmp(name, "MultiCurve") == 0) {
        type = "MultiLineString";
        rc = s_multi(g, geom, "LineString", s_line_body);
    } else {
        snprintf(g->why, sizeof(g->why), "gml:%s is not supported", name);
        rc = -1;
    }
    rzc_buf_t inner = g->wkt;
    g->wkt = body;
    if (rc == 0) {
        static const struct {
            const char *geo, *wkt;
        } names[] = {{"Point", "POINT"},
                     {"LineString", "LINESTRING"},
                     {"Polygon", "POLYGON"},
                     {"MultiPolygon", "MULTIPOLYGON"},
                     {"MultiPoint", "MULTIPOINT"},
                     {"MultiLineString", "MULTILINESTRING"}};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(names[i].geo, type) == 0)
                rzc_buf_puts(&g->wkt, names[i].wkt);
        rzc_buf_puts(&g->wkt, g->dim == 3 ? " Z " : g->dim == 4 ? " ZM " : "");
        rzc_buf_put(&g->wkt, inner.s ? inner.s : "", inner.len);
    }
    rzc_buf_free(&inner);
    return rc == 0 ? type : NULL;
}

/* ---------------------------------------------------------------------------
 * Properties
 */

static int s_contains(xmlNodePtr anc, xmlNodePtr n)
{
    for (; n; n = n->parent)
        if (n == anc)
            return 1;
    return 0;
}

static void s_flatten(rz_gis_rec_t *r, xmlNodePtr n, const char *parent,
                      xmlNodePtr geom, int depth)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || s_nil(c) || s_contains(c, geom))
            continue;
        const char *local = (const char *)c->name;
        if (s_is(c, S_NS_GML, "boundedBy"))
            continue;
        char key[160];
        snprintf(key, sizeof(key), "%s", local);
        xmlChar *href = xmlGetNsProp(c, BAD_CAST "href", BAD_CAST S_NS_XLINK);
        if (href) {
            /* URNs hold no spaces: several references to the same kind of
             * object are one space-separated list */
            rz__gis_rec_prop_append(r, key, (const char *)href, " ");
            xmlFree(href);
            continue;
        }
        if (s_first_elem(c)) {
            if (depth < 8)
                s_flatten(r, c, local, geom, depth + 1);
            continue;
        }
        char *t = s_text(c);
        if (!t)
            continue;
        if (rz__gis_rec_prop_get(r, key) && parent && depth > 0) {
            /* the same leaf name under another parent */
            snprintf(key, sizeof(key), "%s.%s", parent, local);
        }
        rz__gis_rec_prop_append(r, key, t, " ");
        free(t);
    }
}

/* ---------------------------------------------------------------------------
 * Objects of the land register
 */

typedef struct s_class {
    const char *cls;  /* local name in the egb namespace */
    const char *kind; /* GisFeature.kind, the event type, the subject */
    const char *id;   /* element holding the TERYT-based identifier */
    const char *area; /* element holding the area with its uom */
} s_class_t;

static const s_class_t s_classes[] = {
    {"EGB_DzialkaEwidencyjna", "parcel", "idDzialki",
     "powierzchniaEwidencyjna"},
    {"EGB_Budynek", "building", "idBudynku", "powierzchniaZabudowy"},
    {"EGB_ObrebEwidencyjny", "precinct", "idObrebu", NULL},
    {"EGB_JednostkaEwidencyjna", "cadastral-unit", "idJednostkiEwid", NULL},
    {"EGB_PunktGraniczny", "boundary-point", "idPunktu", NULL},
    {NULL, "feature", NULL, NULL}};

/* The gmina of a TERYT-based register id: "221101_1.0001.161/8" is
 * WOJ 22, POW 11, GMI 01, RODZ 1 -> TERC 2211011. */
static int s_tenant_of(const char *id, char tenant[8])
{
    if (strlen(id) < 8 || strspn(id, "0123456789") != 6 || id[6] != '_' ||
        id[7] < '0' || id[7] > '9' || (id[8] != '\0' && id[8] != '.'))
        return -1;
    memcpy(tenant, id, 6);
    tenant[6] = id[7];
    tenant[7] = '\0';
    return 0;
}

/* The text of f's child element with that local name (an attribute of an
 * OGR export: ogr:JPT_KOD_JE); NULL when absent, nil or empty. */
static char *s_child_text(xmlNodePtr f, const char *local)
{
    for (xmlNodePtr c = f->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE ||
            strcmp((const char *)c->name, local) != 0)
            continue;
        char *t = s_text(c);
        if (t && *t)
            return t;
        free(t);
    }
    return NULL;
}

/* The unit code a feature outside the EGiB model names in one of the
 * teryt_properties (PRG layers: JPT_KOD_JE), and which property; NULL
 * when it names none. */
static char *s_unit_code(const rz_gis_t *g, xmlNodePtr f, const char **prop)
{
    for (size_t i = 0; i < g->n_teryt_props; i++) {
        char *t = s_child_text(f, g->teryt_props[i]);
        if (t) {
            *prop = g->teryt_props[i];
            return t;
        }
    }
    return NULL;
}

typedef struct s_label {
    char *target; /* lokalnyId of the object it labels */
    size_t member;
} s_label_t;

typedef struct s_ctx {
    rz_gis_t *g;
    const rz_input_t *in;
    rz_out_t *out;
    s_scan_t *s;
    s_label_t *labels; /* sorted by target, then member */
    size_t n_labels;
} s_ctx_t;

static int s_label_cmp(const void *a, const void *b)
{
    const s_label_t *x = a, *y = b;
    int c = strcmp(x->target, y->target);
    return c ? c : (x->member > y->member) - (x->member < y->member);
}

/* Index the labels by the object they label. */
static int s_index_labels(s_ctx_t *c)
{
    for (size_t i = 0; i < c->s->n; i++) {
        s_member_t *m = &c->s->m[i];
        if (!m->label || !m->doc)
            continue;
        xmlXPathContextPtr x = s_xpath(m->doc);
        char *t = x ? s_find_text(x, m->feature,
                                  "bt:obiektPrzedstawiany//bt:lokalnyId")
                    : NULL;
        xmlXPathFreeContext(x);
        if (!t)
            continue; /* labels nothing: quarantined as an orphan */
        void *n = realloc(c->labels, (c->n_labels + 1) * sizeof(*c->labels));
        if (!n) {
            free(t);
            return RZ_ENOMEM;
        }
        c->labels = n;
        c->labels[c->n_labels].target = t;
        c->labels[c->n_labels++].member = i;
    }
    if (c->n_labels)
        qsort(c->labels, c->n_labels, sizeof(*c->labels), s_label_cmp);
    return 0;
}

static int s_quarantine(s_ctx_t *c, s_member_t *m, const char *key,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_quarantine(s_ctx_t *c, s_member_t *m, const char *key,
                        const char *fmt, ...)
{
    char why[600];
    int n = snprintf(why, sizeof(why), "%s: ", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + n, sizeof(why) - (size_t)n, fmt, ap);
    va_end(ap);
    rz_record_ref_t ref = {m->line, key, (const uint8_t *)m->p,
                           (size_t)(m->e - m->p)};
    int rc = rz_out_quarantine(c->out, &ref, why);
    return rc == RZ_ENOMEM ? rc : 0;
}

/* The labels of object lokalnyId id: their texts into r, the first one as
 * the name. */
static const char *s_labels(s_ctx_t *c, rz_gis_rec_t *r, const char *id)
{
    const char *name = NULL;
    size_t lo = 0, hi = c->n_labels;
    while (id && lo < hi) { /* the first label of id */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->labels[mid].target, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo;
         id && i < c->n_labels && strcmp(c->labels[i].target, id) == 0; i++) {
        s_member_t *m = &c->s->m[c->labels[i].member];
        xmlXPathContextPtr x = s_xpath(m->doc);
        if (!x)
            continue;
        {
            m->used = 1;
            xmlNodePtr et = s_find(x, m->feature, "bt:etykieta/bt:KR_Etykieta");
            char *text = et ? s_find_text(x, et, "bt:tekst") : NULL;
            char *pos = et ? s_find_text(x, et,
                                         "bt:geometriaKarto/gml:Point/"
                                         "gml:pos")
                           : NULL;
            char *angle = et ? s_find_text(x, et, "bt:katObrotu") : NULL;
            if (text) {
                rz__gis_rec_prop_append(r, "label", text, "; ");
                if (!name)
                    name = rz__gis_strndup(&r->pool, text, strlen(text));
            }
            if (pos)
                rz__gis_rec_prop_append(r, "label_pos", pos, "; ");
            if (angle)
                rz__gis_rec_prop_append(r, "label_angle", angle, "; ");
            free(text);
            free(pos);
            free(angle);
        }
        xmlXPathFreeContext(x);
    }
    return name;
}

static int s_map(s_ctx_t *c, s_member_t *m, const char *key)
{
    rz_gis_t *g = c->g;
    xmlNodePtr f = m->feature;
    const s_class_t *cls = s_classes;
    int in_egb = f->ns && strcmp((const char *)f->ns->href, S_NS_EGB) == 0;
    while (cls->cls &&
           !(in_egb && strcmp(cls->cls, (const char *)f->name) == 0))
        cls++;
    const char *fname = (const char *)f->name;
    char what[200];
    xmlChar *gml_id = xmlGetNsProp(f, BAD_CAST "id", BAD_CAST S_NS_GML);
    snprintf(what, sizeof(what), "%s%s%.80s%s", fname, gml_id ? " '" : "",
             gml_id ? (const char *)gml_id : "", gml_id ? "'" : "");

    /* a feature outside the EGiB model (an OGR export of a PRG layer) is
     * of the kind the configuration gives GeoJSON features */
    const char *kind = cls->cls ? cls->kind : g->kind;
    int rc = 0;
    rz_gis_rec_t r;
    rz__gis_rec_init(&r);
    s_geom_t sg;
    memset(&sg, 0, sizeof(sg));
    char *idv = NULL, *ident = NULL, *area = NULL, *srs_owned = NULL;
    char *unit = NULL;
    const char *unit_prop = NULL;
    int unit_form = 0;
    xmlChar *uom = NULL;
    xmlXPathContextPtr x = s_xpath(m->doc);
    if (!x) {
        rc = RZ_ENOMEM;
        goto done;
    }

    /* identity */
    if (cls->id) {
        char expr[96];
        snprintf(expr, sizeof(expr), "egb:%s", cls->id);
        idv = s_find_text(x, f, expr);
        if (!idv || !*idv) {
            rc = s_quarantine(c, m, key, "%s: no egb:%s", what, cls->id);
            goto done;
        }
    }
    char tenant[8] = "";
    if (idv && s_tenant_of(idv, tenant) != 0) {
        if (strcmp(cls->kind, "parcel") == 0) {
            rc = s_quarantine(c, m, key,
                              "%s: egb:idDzialki '%.80s' is not a TERYT "
                              "parcel id (WWPPGG_R.OOOO.NR)",
                              what, idv);
            goto done;
        }
        tenant[0] = '\0';
    }
    if (strcmp(cls->kind, "parcel") == 0 && strlen(idv) < 15) {
        /* WWPPGG_R.OOOO. and at least one character of the number */
        rc = s_quarantine(c, m, key,
                          "%s: egb:idDzialki '%.80s' is not a TERYT parcel "
                          "id (WWPPGG_R.OOOO.NR)",
                          what, idv);
        goto done;
    }
    /* the unit the data names wins over the configured tenant */
    if (!cls->cls && (unit = s_unit_code(g, f, &unit_prop)) != NULL) {
        unit_form = rz__gis_unit_terc(unit, tenant);
        if (unit_form < 0) {
            rc = s_quarantine(c, m, key,
                              "%s: %s '%.40s' is not a TERYT unit code (a "
                              "TERC code of 2, 4 or 7 digits, WWPPGG_R or "
                              "WWPPGG_R.OOOO)",
                              what, unit_prop, unit);
            goto done;
        }
    }
    if (!*tenant && *g->tenant)
        snprintf(tenant, sizeof(tenant), "%s", g->tenant);
    if (!*tenant) {
        rc = s_quarantine(c, m, key,
                          "%s: no tenant: no TERYT-based id and no "
                          "gis.tenant option",
                          what);
        goto done;
    }
    char *lokalny = s_find_text(x, f,
                                "*[local-name()='idIIP']/"
                                "bt:BT_Identyfikator/bt:lokalnyId");
    char *jpt_id = cls->cls || idv || unit ? NULL : s_child_text(f, "JPT_ID");
    if (!idv && unit) {
        /* the unit is the feature: the same subject as from GeoJSON */
        idv = strdup(unit);
    } else if (!idv && jpt_id) {
        /* PRG's object id, unique within its layer (the element's name) */
        size_t n = strlen(fname) + strlen(jpt_id) + 2;
        if ((idv = malloc(n)))
            snprintf(idv, n, "%s/%s", fname, jpt_id);
    } else if (!idv && (lokalny || gml_id)) {
        idv = strdup(lokalny ? lokalny : (const char *)gml_id);
    } else if (!idv) {
        /* no identifier at all: its place, in the namespace of its file,
         * so that two files do not share subjects */
        char layer[128];
        if (!rz__gis_slug(c->in->name, layer, sizeof(layer)))
            snprintf(layer, sizeof(layer), "feature");
        size_t n = strlen(layer) + strlen(key) + 2;
        if ((idv = malloc(n)))
            snprintf(idv, n, "%s/%s", layer, key);
    }
    free(jpt_id);
    if (!idv) {
        free(lokalny);
        rc = RZ_ENOMEM;
        goto done;
    }

    /* geometry */
    xmlNodePtr geom = s_find_geometry(f);
    if (!geom) {
        free(lokalny);
        rc = s_quarantine(c, m, key, "%s: no geometry", what);
        goto done;
    }
    const char *srs = NULL;
    for (xmlNodePtr n = geom; n && n->type == XML_ELEMENT_NODE && !srs;
         n = n->parent) {
        xmlChar *v = xmlGetProp(n, BAD_CAST "srsName");
        if (v) {
            srs = srs_owned = strdup((const char *)v);
            xmlFree(v);
        }
    }
    int lonlat = 0;
    sg.epsg = srs ? rz__gis_crs_code(srs, &lonlat) : 0;
    if (!sg.epsg) {
        free(lokalny);
        rc = s_quarantine(c, m, key, "%s: unknown CRS: %s%.120s%s", what,
                          srs ? "srsName '" : "no srsName", srs ? srs : "",
                          srs ? "'" : "");
        goto done;
    }
    int axis = lonlat ? 'x' : rz__gis_crs_axis(sg.epsg);
    sg.yx = axis == 'y';
    const char *gtype = s_geometry(&sg, geom);
    if (!gtype) {
        free(lokalny);
        rc = s_quarantine(c, m, key, "%s: invalid geometry: %s", what, sg.why);
        goto done;
    }
    if (sg.wkt.oom) {
        free(lokalny);
        rc = RZ_ENOMEM;
        goto done;
    }

    /* area */
    double area_v = 0;
    if (cls->area) {
        char expr[96];
        snprintf(expr, sizeof(expr), "egb:%s", cls->area);
        xmlNodePtr an = s_find(x, f, expr);
        area = s_text(an);
        if (area && rz__gis_number(area, strlen(area), &area_v)) {
            rc = s_quarantine(c, m, key, "%s: egb:%s '%.40s' is not a number",
                              what, cls->area, area);
            free(lokalny);
            goto done;
        }
        if (area)
            uom = xmlGetProp(an, BAD_CAST "uom");
    }

    /* properties: what make-sample.py and GIS users know the parcel by,
     * then every other simple property of the object */
    if (gml_id)
        rz__gis_rec_prop(&r, "gml_id", (const char *)gml_id);
    s_flatten(&r, f, NULL, geom, 0);
    rz__gis_rec_prop(&r, "srsName", srs);
    const char *name = s_labels(c, &r, lokalny);
    free(lokalny);
    for (size_t i = 0; !cls->cls && !name && i < g->n_name_props; i++)
        name = rz__gis_rec_prop_get(&r, g->name_props[i]);

    ident = s_find_text(x, f, "gml:identifier");
    int own_id = ident && *ident && strlen(ident) <= RZ_ID_MAX;
    for (const char *s = ident; own_id && *s; s++)
        own_id = (unsigned char)*s >= 0x20;
    if (own_id)
        snprintf(r.id, sizeof(r.id), "%s", ident);
    else if (rz_adapter_id(r.id, sizeof(r.id), "gis", c->in->content_id, key) <
             0) {
        rc = s_quarantine(c, m, key, "%s: no stable id fits", what);
        goto done;
    }
    const char *subject = rz__gis_printf(
        &r.pool, "%s:%s", unit_form > 0 ? rz__gis_unit_kind(unit_form) : kind,
        idv);
    if (!subject || strlen(subject) > RZ_SUBJECT_MAX) {
        rc = s_quarantine(c, m, key, "%s: subject longer than %d bytes", what,
                          RZ_SUBJECT_MAX);
        goto done;
    }
    for (const char *s = subject; *s; s++)
        if ((unsigned char)*s < 0x20) {
            rc =
                s_quarantine(c, m, key, "%s: id with control characters", what);
            goto done;
        }

    /* when this version of the object was made, in Poland's time */
    static const char *const times[] = {"egb:startWersjaObiekt",
                                        "*[local-name()='idIIP']/"
                                        "bt:BT_Identyfikator/bt:wersjaId",
                                        "egb:startObiekt", NULL};
    for (int i = 0; times[i] && !r.ev.time; i++) {
        char *t = s_find_text(x, f, times[i]);
        int64_t us;
        if (t && rzc_time_parse(t, &us) == 0)
            r.ev.time = us;
        free(t);
    }

    r.ev.type = rz__gis_printf(&r.pool, "pl.gov.gmina.gis.%s.v1", kind);
    r.ev.subject = (char *)subject;
    r.ev.tenant = rz__gis_strndup(&r.pool, tenant, strlen(tenant));
    r.gf.feature_id = rz__gis_strndup(&r.pool, idv, strlen(idv));
    r.gf.kind = (char *)kind;
    r.gf.name = name ? (char *)name : r.gf.feature_id;
    r.gf.area = area ? area_v : 0;
    r.gf.area_unit = uom ? (char *)uom : (char *)"";
    r.geo.crs = rz__gis_printf(&r.pool, "EPSG:%d", sg.epsg);
    r.geo.type = (char *)gtype;
    r.geo.wkt = sg.wkt.s;
    r.geo.axis_order = axis == 'y' ? "yx" : axis == 'x' ? "xy" : "";
    memcpy(r.bbox, sg.bb, sizeof(r.bbox));
    if (!r.ev.type || !r.ev.tenant || !r.gf.feature_id || !r.geo.crs ||
        !r.gf.name)
        r.oom = 1;
    rz_record_ref_t ref = {m->line, key, (const uint8_t *)m->p,
                           (size_t)(m->e - m->p)};
    rc = rz__gis_rec_emit(&r, c->out, &ref);
    if (rc != RZ_ENOMEM)
        rc = 0;
done:
    xmlXPathFreeContext(x);
    xmlFree(gml_id);
    xmlFree(uom);
    free(idv);
    free(ident);
    free(area);
    free(srs_owned);
    free(unit);
    rzc_buf_free(&sg.wkt);
    rz__gis_rec_free(&r);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The reader
 */

static int s_is_member(const char *qname)
{
    const char *l = s_local(qname);
    return strcmp(l, "featureMember") == 0 || strcmp(l, "member") == 0;
}

/* GML children of a collection that describe it rather than hold a
 * feature. */
static int s_is_metadata(const char *qname)
{
    static const char *const names[] = {
        "boundedBy",  "description", "descriptionReference",
        "identifier", "name",        "metaDataProperty",
        NULL};
    const char *l = s_local(qname);
    for (int i = 0; names[i]; i++)
        if (strcmp(l, names[i]) == 0)
            return 1;
    return 0;
}

int rz__gis_gml_parse(rz_gis_t *g, const rz_input_t *in, rz_out_t *out,
                      char *err, size_t err_len)
{
    const char *name = in->name ? in->name : "input";
    s_scan_t s = {.b = (const char *)in->data,
                  .e = (const char *)in->data + in->len};
    int rc = s_scan(&s);
    if (rc == RZ_ENOMEM)
        goto done;
    if (rc) {
        snprintf(err, err_len, "%s: not XML (no root element)", name);
        rc = RZ_EINVAL;
        goto done;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        rc = RZ_ENOMEM;
        goto done;
    }

    /* the collection itself must be XML: its start tag, closed at once */
    {
        size_t pro = (size_t)(s.root_e - s.b), rl = strlen(s.root_q);
        char *buf = malloc(pro + rl + 4);
        if (!buf) {
            xmlFreeParserCtxt(ctxt);
            rc = RZ_ENOMEM;
            goto done;
        }
        memcpy(buf, s.b, pro);
        int n = s.root_empty ? 0 : sprintf(buf + pro, "</%s>", s.root_q);
        xmlDocPtr d = xmlCtxtReadMemory(ctxt, buf, (int)pro + n, name, NULL,
                                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                                            XML_PARSE_NOWARNING);
        free(buf);
        xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
        int collection = root && strstr((const char *)root->name,
                                        "FeatureCollection") != NULL;
        if (!d) {
            xmlErrorPtr xe = xmlCtxtGetLastError(ctxt);
            snprintf(err, err_len, "%s: not XML: %s", name,
                     xe && xe->message ? xe->message : "not well-formed");
            char *nl = strchr(err, '\n');
            if (nl)
                *nl = '\0';
            rc = RZ_EINVAL;
        } else if (!collection) {
            snprintf(err, err_len,
                     "%s: root element '%s' is not a GML FeatureCollection",
                     name, s.root_q);
            rc = RZ_EINVAL;
        }
        xmlFreeDoc(d);
        if (rc) {
            xmlFreeParserCtxt(ctxt);
            goto done;
        }
    }

    /* labels first, and kept: the objects they label come before them */
    for (size_t i = 0; i < s.n; i++)
        if (s_is_member(s.m[i].qname) && s_label_hint(&s, &s.m[i]))
            s_parse_member(&s, &s.m[i], name, ctxt);

    s_ctx_t c = {g, in, out, &s, NULL, 0};
    if ((rc = s_index_labels(&c)) != 0)
        goto done_labels;
    size_t k = 0;
    /* objects first (they take their labels), then what is left */
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        s_member_t *m = &s.m[i];
        char key[160];
        if (!s_is_member(m->qname)) {
            if (s_is_metadata(m->qname))
                continue;
            snprintf(key, sizeof(key), "%.100s[%zu]", s_local(m->qname), i);
            if (strcmp(s_local(m->qname), "featureMembers") == 0)
                rc = s_quarantine(&c, m, key,
                                  "gml:featureMembers is not supported: "
                                  "export each feature in a "
                                  "gml:featureMember");
            else
                rc = s_quarantine(&c, m, key,
                                  "'%.80s' is not a feature member of the "
                                  "collection",
                                  m->qname);
            continue;
        }
        snprintf(key, sizeof(key), "%.100s[%zu]", s_local(m->qname), k++);
        /* an object is parsed, mapped and freed: memory stays flat */
        if (!m->doc && !m->err[0])
            s_parse_member(&s, m, name, ctxt);
        if (!m->feature)
            rc = s_quarantine(&c, m, key, "%s", m->err);
        else if (!m->label)
            rc = s_map(&c, m, key);
        if (!m->label) {
            xmlFreeDoc(m->doc);
            m->doc = NULL;
            m->feature = NULL;
        }
    }
    xmlFreeParserCtxt(ctxt);
    ctxt = NULL;
    k = 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        s_member_t *m = &s.m[i];
        if (!s_is_member(m->qname))
            continue;
        char key[160];
        snprintf(key, sizeof(key), "%.100s[%zu]", s_local(m->qname), k++);
        if (m->label && !m->used) {
            xmlXPathContextPtr x = s_xpath(m->doc);
            char *target = x ? s_find_text(x, m->feature,
                                           "bt:obiektPrzedstawiany//"
                                           "bt:lokalnyId")
                             : NULL;
            rc = s_quarantine(&c, m, key,
                              "bt:KR_ObiektKarto: a label of object '%.80s', "
                              "which is not in this file",
                              target ? target : "(none named)");
            free(target);
            xmlXPathFreeContext(x);
        }
    }
    /* the complete members went out; a collection that never closes is a
     * file cut short, and the input as a whole fails so that it is not
     * taken as done (a tailed chunk is whole lines, not a file) */
    if (rc == 0 && !s.root_closed && !in->partial) {
        snprintf(err, err_len,
                 "%s: input ends at byte %zu inside the root element "
                 "'%.80s': the file is cut short",
                 name, in->len, s.root_q);
        rc = RZ_EINVAL;
    }
done_labels:
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    for (size_t i = 0; i < c.n_labels; i++)
        free(c.labels[i].target);
    free(c.labels);
done:
    for (size_t i = 0; i < s.n; i++)
        xmlFreeDoc(s.m[i].doc);
    free(s.m);
    return rc;
}
