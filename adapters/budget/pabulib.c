/* pabulib.c - participatory budget files in the Pabulib format.
 *
 *   META                       key;value lines about the vote
 *   key;value
 *   unit;Gdańsk
 *   ...
 *   PROJECTS                   one line per project
 *   project_id;cost;votes;score;name
 *   OLS/0004;211000;312;1312;TRENINGOWE PLACE ZABAW W DZIELNICY OLSZYNKA
 *   VOTES                      one line per ballot
 *   voter_id;vote;points;sex;age
 *   691;OLS/0006,OLS/0004;3,2;F;34
 *
 * Each section has its own header. A project becomes a BudgetEntry (the
 * cost as a planned expenditure), a ballot a raw JSON event; the META
 * values are not records of their own but go into every event. Lists in
 * a vote are comma-separated inside one field ("3,2" is two points, not a
 * decimal comma). The header's counts (num_projects, num_votes) do not
 * always match the body, so they are kept, not enforced.
 */
#include "budget.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { S_NONE, S_META, S_PROJECTS, S_VOTES };

typedef struct s_pb {
    rz_budget_job_t *job;
    int section, need_header, ready;
    /* META */
    size_t nmeta, metacap;
    char **mkey, **mval;
    /* the current section's header */
    size_t ncols;
    char **names;
    int c_id, c_cost, c_name, c_vote, c_points, c_age;
    /* from META, once PROJECTS or VOTES starts */
    char tenant[8];
    char base[160];
    char *unit_label;
    char *unresolved; /* why the named unit has no TERC, or NULL */
    int64_t opened, closed;
    int32_t year;
    rz_budget_set_t projects, voters;
    uint64_t nproj, nvote;
    rz_budget_ev_t e;
} s_pb_t;

/* A META value, NULL when the key is not there or its value is missing
 * ("None" and friends, rz__budget_is_missing). */
static const char *s_meta(const s_pb_t *p, const char *key)
{
    for (size_t i = 0; i < p->nmeta; i++)
        if (strcmp(p->mkey[i], key) == 0)
            return rz__budget_is_missing(p->mval[i]) ? NULL : p->mval[i];
    return NULL;
}

/* Quarantine a record whose required column col has no value v. */
static int s_no_value(s_pb_t *p, const rz_record_ref_t *ref, const char *col,
                      const char *v)
{
    if (!*v)
        return rz__budget_quarantine(p->job->out, ref,
                                     "column '%s' is empty: no value", col);
    return rz__budget_quarantine(p->job->out, ref,
                                 "column '%s' is '%s': no value", col, v);
}

static int s_meta_add(s_pb_t *p, const char *k, const char *v)
{
    if (p->nmeta == p->metacap) {
        size_t cap = p->metacap ? p->metacap * 2 : 32;
        char **a = realloc(p->mkey, cap * sizeof *a);
        if (!a)
            return RZ_ENOMEM;
        p->mkey = a;
        char **b = realloc(p->mval, cap * sizeof *b);
        if (!b)
            return RZ_ENOMEM;
        p->mval = b;
        p->metacap = cap;
    }
    p->mkey[p->nmeta] = strdup(k);
    p->mval[p->nmeta] = strdup(v);
    p->nmeta++;
    return p->mkey[p->nmeta - 1] && p->mval[p->nmeta - 1] ? 0 : RZ_ENOMEM;
}

/* "09.09.2019" or "2019-09-09" plus days, at midnight in Poland; 0 when
 * the date has neither shape. */
static int64_t s_date(const char *s, int plus_days)
{
    int d, m, y;
    char tail;
    if (!s)
        return 0;
    if (sscanf(s, "%2d.%2d.%4d%c", &d, &m, &y, &tail) != 3 &&
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return 0;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    return rzc_warsaw_midnight_us(y, m, d + plus_days);
}

/* The file's tenant: the unit its META names, else the configured one.
 * A named unit that resolves to no TERC leaves p->unresolved saying why:
 * every record is then quarantined with it, never published under the
 * fallback's code. Returns 0, RZ_ENOMEM, or RZ_EINVAL with err when the
 * file names no unit and no fallback is configured. */
static int s_tenant(s_pb_t *p, const char *unit, uint64_t line)
{
    rz_budget_job_t *job = p->job;
    const char *country = s_meta(p, "country");
    char why[400];
    if (unit && country) {
        char f[64];
        rz__budget_fold(country, f, sizeof f);
        if (strcmp(f, "poland") != 0 && strcmp(f, "polska") != 0) {
            p->unresolved = rz__budget_printf(
                "Pabulib unit '%s' is in '%s', not in Poland: it "
                "has no TERC code",
                unit, country);
            return p->unresolved ? 0 : RZ_ENOMEM;
        }
    }
    if (unit) {
        if (rz__budget_unit_by_name(job->st, job->out, unit, p->tenant, why,
                                    sizeof why) == 0)
            return 0;
        p->unresolved = rz__budget_printf("Pabulib %s", why);
        return p->unresolved ? 0 : RZ_ENOMEM;
    }
    if (!*job->st->tenant) {
        snprintf(job->err, job->err_len,
                 "line %llu: the Pabulib META names no unit and "
                 "budget.tenant is not set",
                 (unsigned long long)line);
        return RZ_EINVAL;
    }
    snprintf(p->tenant, sizeof p->tenant, "%s", job->st->tenant);
    return 0;
}

/* Everything that comes from META, worked out when the first data section
 * starts. Returns 0 or RZ_EINVAL with err (the file cannot be mapped). */
static int s_ready(s_pb_t *p, uint64_t line)
{
    const char *unit = s_meta(p, "unit");
    const char *instance = s_meta(p, "instance");
    const char *district = s_meta(p, "district");
    if (!district)
        district = s_meta(p, "subunit");
    int rc = s_tenant(p, unit, line);
    if (rc)
        return rc;
    char us[64] = "", is[32] = "", ds[64] = "";
    rz__budget_slug(unit ? unit : "", us, sizeof us);
    rz__budget_slug(instance ? instance : "", is, sizeof is);
    rz__budget_slug(district ? district : "", ds, sizeof ds);
    snprintf(p->base, sizeof p->base, "pabulib-%s%s%s%s%s", us, *is ? "-" : "",
             is, *ds ? "-" : "", ds);
    int64_t y = 0;
    if (instance && rz__budget_uint(instance, 9999, &y) == 0)
        p->year = (int32_t)y;
    if (unit && district)
        p->unit_label = rz__budget_printf("%s / %s", unit, district);
    else
        p->unit_label = strdup(unit ? unit : district ? district : "");
    if (!p->unit_label)
        return RZ_ENOMEM;
    p->opened = s_date(s_meta(p, "date_begin"), 0);
    p->closed = s_date(s_meta(p, "date_end"), 1);
    p->ready = 1;
    return 0;
}

static int s_header(s_pb_t *p, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = p->job;
    const char *sect = p->section == S_META       ? "META"
                       : p->section == S_PROJECTS ? "PROJECTS"
                                                  : "VOTES";
    if (row->error) {
        snprintf(job->err, job->err_len,
                 "line %llu: the %s header cannot "
                 "be read: %s",
                 (unsigned long long)row->line, sect, row->error);
        return RZ_EINVAL;
    }
    for (size_t i = 0; i < p->ncols; i++)
        free(p->names[i]);
    free(p->names);
    p->ncols = row->n;
    if (p->ncols > 1 && row->f[p->ncols - 1][0] == '\0')
        p->ncols--;
    if (!(p->names = calloc(p->ncols, sizeof *p->names)))
        return RZ_ENOMEM;
    p->c_id = p->c_cost = p->c_name = p->c_vote = p->c_points = p->c_age = -1;
    for (size_t i = 0; i < p->ncols; i++) {
        if (!(p->names[i] = strdup(row->f[i])))
            return RZ_ENOMEM;
        const char *n = row->f[i];
        int c = (int)i;
        if (!strcmp(n, "project_id"))
            p->c_id = c;
        else if (!strcmp(n, "voter_id"))
            p->c_id = c;
        else if (!strcmp(n, "cost"))
            p->c_cost = c;
        else if (!strcmp(n, "name"))
            p->c_name = c;
        else if (!strcmp(n, "vote"))
            p->c_vote = c;
        else if (!strcmp(n, "points"))
            p->c_points = c;
        else if (!strcmp(n, "age"))
            p->c_age = c;
    }
    const char *missing = NULL;
    if (p->section == S_PROJECTS && p->c_id < 0)
        missing = "project_id";
    else if (p->section == S_PROJECTS && p->c_cost < 0)
        missing = "cost";
    else if (p->section == S_VOTES && p->c_id < 0)
        missing = "voter_id";
    else if (p->section == S_VOTES && p->c_vote < 0)
        missing = "vote";
    if (missing) {
        snprintf(job->err, job->err_len,
                 "line %llu: the %s header has no "
                 "column '%s'",
                 (unsigned long long)row->line, sect, missing);
        return RZ_EINVAL;
    }
    p->need_header = 0;
    if (p->section != S_META && !p->ready)
        return s_ready(p, row->line);
    return 0;
}

static int s_fields_ok(const s_pb_t *p, const rz_budget_row_t *row)
{
    return row->n == p->ncols ||
           (row->n == p->ncols + 1 && row->f[row->n - 1][0] == '\0');
}

static int s_project(s_pb_t *p, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = p->job;
    char key[48];
    snprintf(key, sizeof key, "PROJECTS row %llu",
             (unsigned long long)++p->nproj);
    rz_record_ref_t ref = {row->line, key, row->bytes, row->len};
    if (p->unresolved)
        return rz__budget_quarantine(job->out, &ref, "%s", p->unresolved);
    if (row->error)
        return rz__budget_quarantine(job->out, &ref, "%s", row->error);
    if (!s_fields_ok(p, row))
        return rz__budget_quarantine(job->out, &ref,
                                     "row has %zu fields, the "
                                     "PROJECTS header has %zu",
                                     row->n, p->ncols);
    const char *id = row->f[p->c_id], *cost = row->f[p->c_cost];
    if (rz__budget_is_missing(id))
        return s_no_value(p, &ref, "project_id", id);
    /* known before its cost is checked: the votes for a project whose
     * row is quarantined are still votes for a project of this file */
    int rc = rz__budget_set_add(&p->projects, id);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return rz__budget_quarantine(job->out, &ref,
                                     "project '%s' is listed twice", id);
    if (rz__budget_is_missing(cost))
        return s_no_value(p, &ref, "cost", cost);
    int64_t grosze;
    const char *why;
    if (rzc_grosze(cost, 1, &grosze, &why))
        return rz__budget_quarantine(job->out, &ref, "column 'cost': '%s' %s",
                                     cost, why);
    rz_budget_ev_t *e = &p->e;
    rz__budget_ev_budget(e, "pl.gov.gmina.budget.participatory.project.v1");
    snprintf(e->tenant, sizeof e->tenant, "%s", p->tenant);
    if (snprintf(e->id, sizeof e->id, "%s-project-%s", p->base, id) >=
        (int)sizeof e->id)
        return rz__budget_quarantine(job->out, &ref,
                                     "column 'project_id': '%s' is "
                                     "too long for an event id",
                                     id);
    e->ev.source = (char *)rz__budget_ev_source(e, job->st, "pabulib");
    e->ev.subject = rz__budget_ev_own(e, rz__budget_printf("project:%s", id));
    if (!e->ev.source || !e->ev.subject)
        return RZ_ENOMEM;
    e->ev.time = p->opened;
    Ratusz__V1__BudgetEntry *b = &e->b;
    b->side = RATUSZ__V1__BUDGET_SIDE__BUDGET_SIDE_EXPENDITURE;
    b->stage = RATUSZ__V1__BUDGET_STAGE__BUDGET_STAGE_PLAN;
    b->amount_grosze = grosze;
    b->fiscal_year = p->year;
    b->period = (char *)(s_meta(p, "instance") ? s_meta(p, "instance") : "");
    b->report = "pabulib";
    b->unit = p->unit_label;
    b->description = p->c_name >= 0 && !rz__budget_is_missing(row->f[p->c_name])
                         ? row->f[p->c_name]
                         : "";
    b->task = (char *)id;
    for (size_t i = 0; i < p->ncols; i++)
        if (!rz__budget_is_missing(row->f[i]) &&
            (rc = rz__budget_ev_attr(e, p->names[i], row->f[i])))
            return rc;
    static const char *const extra[] = {"district", "vote_type", "edition"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        const char *v = s_meta(p, extra[i]);
        if (v && (rc = rz__budget_ev_attr(e, extra[i], v)))
            return rc;
    }
    return rz__budget_emit(job->out, &ref, &e->ev);
}

/* Split "a,b,c" into a JSON array of strings or (ints) integers. Returns
 * the array, or NULL with *bad pointing at the item that is no integer. */
static json_t *s_list(const char *s, int ints, const char **bad, char *item,
                      size_t item_len)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    *bad = NULL;
    while (*s) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        if (n >= item_len)
            n = item_len - 1;
        memcpy(item, s, n);
        item[n] = '\0';
        json_t *v;
        int64_t x;
        if (ints) {
            if (rz__budget_uint(item, INT32_MAX, &x)) {
                *bad = item;
                json_decref(a);
                return NULL;
            }
            v = json_integer(x);
        } else {
            v = json_string(item);
        }
        if (!v || json_array_append_new(a, v)) {
            json_decref(a);
            return NULL;
        }
        s = c ? c + 1 : s + strlen(s);
        if (c && !*s) { /* "a,": an empty last item */
            *bad = "";
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int s_vote(s_pb_t *p, const rz_budget_row_t *row)
{
    rz_budget_job_t *job = p->job;
    char key[48];
    snprintf(key, sizeof key, "VOTES row %llu", (unsigned long long)++p->nvote);
    rz_record_ref_t ref = {row->line, key, row->bytes, row->len};
    if (p->unresolved)
        return rz__budget_quarantine(job->out, &ref, "%s", p->unresolved);
    if (row->error)
        return rz__budget_quarantine(job->out, &ref, "%s", row->error);
    if (!s_fields_ok(p, row))
        return rz__budget_quarantine(job->out, &ref,
                                     "row has %zu fields, the VOTES "
                                     "header has %zu",
                                     row->n, p->ncols);
    const char *voter = row->f[p->c_id];
    if (rz__budget_is_missing(voter))
        return s_no_value(p, &ref, "voter_id", voter);
    const char *vote = row->f[p->c_vote];
    if (rz__budget_is_missing(vote))
        return s_no_value(p, &ref, "vote", vote);

    json_t *obj = json_object();
    if (!obj)
        return RZ_ENOMEM;
    int rc = 0;
    const char *bad;
    char item[256];
    size_t nvotes = 0;
    for (size_t i = 0; i < p->ncols && rc == 0; i++) {
        const char *v = row->f[i];
        json_t *j = NULL;
        if ((int)i != p->c_vote && rz__budget_is_missing(v))
            continue; /* absent, not null: as if the column were not there */
        if ((int)i == p->c_vote) {
            if (!(j = s_list(v, 0, &bad, item, sizeof item))) {
                rc = bad ? 1 : RZ_ENOMEM;
                if (bad)
                    rz__budget_quarantine(job->out, &ref,
                                          "column 'vote': '%s' has "
                                          "an empty project id",
                                          v);
                break;
            }
            nvotes = json_array_size(j);
            for (size_t k = 0; k < nvotes; k++) {
                const char *pid = json_string_value(json_array_get(j, k));
                if (!pid || !rz__budget_set_has(&p->projects, pid)) {
                    rc = 1;
                    rz__budget_quarantine(job->out, &ref,
                                          "column 'vote': project "
                                          "'%s' is not in PROJECTS",
                                          pid);
                    json_decref(j);
                    goto done;
                }
            }
        } else if ((int)i == p->c_points) {
            if (!(j = s_list(v, 1, &bad, item, sizeof item))) {
                rc = bad ? 1 : RZ_ENOMEM;
                if (bad)
                    rz__budget_quarantine(job->out, &ref,
                                          "column 'points': '%s' is "
                                          "not a number",
                                          bad);
                break;
            }
        } else if ((int)i == p->c_age) {
            int64_t age;
            if (rz__budget_uint(v, 200, &age) == 0) {
                j = json_integer(age);
            } else {
                rc = 1;
                rz__budget_quarantine(job->out, &ref,
                                      "column 'age': '%s' is not a "
                                      "number",
                                      v);
                break;
            }
        } else {
            j = json_string(v);
        }
        if (!j || json_object_set_new(obj, p->names[i], j))
            rc = RZ_ENOMEM;
    }
    json_t *points = json_object_get(obj, "points");
    if (rc == 0 && points) {
        size_t np = json_array_size(points);
        if (np != nvotes) {
            rc = 1;
            rz__budget_quarantine(job->out, &ref,
                                  "column 'points': %zu points for "
                                  "%zu projects",
                                  np, nvotes);
        }
    }
    if (rc == 0) {
        rc = rz__budget_set_add(&p->voters, voter);
        if (rc == 1)
            rz__budget_quarantine(job->out, &ref, "voter '%s' has two ballots",
                                  voter);
    }
    const char *district = s_meta(p, "district");
    const char *instance = s_meta(p, "instance");
    if (rc == 0 && district)
        rc = json_object_set_new(obj, "district", json_string(district))
                 ? RZ_ENOMEM
                 : 0;
    if (rc == 0 && instance)
        rc = json_object_set_new(obj, "instance", json_string(instance))
                 ? RZ_ENOMEM
                 : 0;
    if (rc == 0) {
        char *text = json_dumps(obj, JSON_COMPACT);
        rz_budget_ev_t *e = &p->e;
        rz__budget_ev_raw(e, "pl.gov.gmina.budget.participatory.vote.v1",
                          "application/json", (const uint8_t *)text,
                          text ? strlen(text) : 0);
        rz__budget_ev_own(e, text);
        snprintf(e->tenant, sizeof e->tenant, "%s", p->tenant);
        if (!text) {
            rc = RZ_ENOMEM;
        } else if (snprintf(e->id, sizeof e->id, "%s-vote-%s", p->base,
                            voter) >= (int)sizeof e->id) {
            rz__budget_quarantine(job->out, &ref,
                                  "column 'voter_id': '%s' is too "
                                  "long for an event id",
                                  voter);
        } else {
            e->ev.source = (char *)rz__budget_ev_source(e, job->st, "pabulib");
            e->ev.subject =
                rz__budget_ev_own(e, rz__budget_printf("ballot:%s", voter));
            e->ev.time = p->closed;
            if (!e->ev.source || !e->ev.subject)
                rc = RZ_ENOMEM;
            else
                rz__budget_emit(job->out, &ref, &e->ev);
        }
    }
done:
    json_decref(obj);
    return rc < 0 ? rc : 0;
}

static int s_row(void *ctx, const rz_budget_row_t *row)
{
    s_pb_t *p = ctx;
    rz_budget_job_t *job = p->job;
    if (row->n == 1 && !p->need_header) {
        const char *s = row->f[0];
        int next = !strcmp(s, "META")       ? S_META
                   : !strcmp(s, "PROJECTS") ? S_PROJECTS
                   : !strcmp(s, "VOTES")    ? S_VOTES
                                            : S_NONE;
        if (next != S_NONE) {
            p->section = next;
            p->need_header = 1;
            return 0;
        }
    }
    if (p->section == S_NONE) {
        snprintf(job->err, job->err_len,
                 "line %llu: not a Pabulib file: it "
                 "does not start with META",
                 (unsigned long long)row->line);
        return RZ_EINVAL;
    }
    if (p->need_header)
        return s_header(p, row);
    if (p->section == S_PROJECTS)
        return s_project(p, row);
    if (p->section == S_VOTES)
        return s_vote(p, row);
    /* META: key;value */
    char key[48];
    snprintf(key, sizeof key, "META line %llu", (unsigned long long)row->line);
    rz_record_ref_t ref = {row->line, key, row->bytes, row->len};
    if (row->error)
        return rz__budget_quarantine(job->out, &ref, "%s", row->error);
    if (row->n != 2 || !row->f[0][0])
        return rz__budget_quarantine(job->out, &ref,
                                     "META line has %zu fields, "
                                     "not key;value",
                                     row->n);
    if (p->ready)
        return rz__budget_quarantine(job->out, &ref,
                                     "META after the data sections");
    return s_meta_add(p, row->f[0], row->f[1]);
}

int rz__budget_parse_pabulib(rz_budget_job_t *job)
{
    rz_budget_text_t t;
    int rc = rzc_text_decode(&t, job->in->data, job->in->len, job->st->encoding,
                             job->err, job->err_len);
    if (rc)
        return rc;
    s_pb_t p;
    memset(&p, 0, sizeof p);
    p.job = job;
    rz__budget_ev_init(&p.e);
    rc = rz__budget_csv_each(&t, ';', s_row, &p);
    if (rc == 0 && p.section == S_NONE) {
        snprintf(job->err, job->err_len, "empty input: no META section");
        rc = RZ_EINVAL;
    }
    if (rc == RZ_ENOMEM && job->err_len && !job->err[0])
        snprintf(job->err, job->err_len, "out of memory");
    for (size_t i = 0; i < p.nmeta; i++) {
        free(p.mkey[i]);
        free(p.mval[i]);
    }
    free(p.mkey);
    free(p.mval);
    for (size_t i = 0; i < p.ncols; i++)
        free(p.names[i]);
    free(p.names);
    free(p.unit_label);
    free(p.unresolved);
    rz__budget_set_free(&p.projects);
    rz__budget_set_free(&p.voters);
    rz__budget_ev_free(&p.e);
    rzc_text_free(&t);
    return rc;
}
