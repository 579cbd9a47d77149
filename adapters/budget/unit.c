/* unit.c - who a budget file is about: unit names (Pabulib META "unit")
 * and GUS BDL unit codes to TERC tenants.
 *
 * The unit a file names wins over the configured tenant, which is only
 * for files that name none. A name is looked up in budget.tenant_names
 * first (the operator's word, also for names TERYT cannot decide), then
 * among the gminy of the TERC register the runtime lends (the adapter's
 * teryt: files). A name that neither knows, or that several gminy share,
 * resolves to nothing: the caller quarantines, it never falls back to
 * another unit's code. A file names its unit once, so the register is
 * searched once per file, without an index of its own.
 *
 * GUS BDL writes unit codes in two forms:
 *
 *   7 digits   WW PP GG R                        0200000, 1261011
 *   12 digits  MM WW R SS PP GG R                071412865011
 *              |  |  | |  |  +----------------- gmina and its kind (TERC)
 *              |  |  | |  +-------------------- powiat (TERC)
 *              |  |  | +----------------------- podregion (NUTS 3)
 *              |  |  +------------------------- region (NUTS 2)
 *              |  +---------------------------- województwo (TERC)
 *              +------------------------------- makroregion (NUTS 1)
 *
 * All zeros is POLSKA, the whole country; the NUTS levels between the
 * country and a powiat have no TERC code. Neither is a tenant.
 */
#include "budget.h"

#include <stdlib.h>
#include <string.h>

/* Gminy (RODZ 1 urban, 2 rural, 3 urban-rural) are the tenants a name can
 * stand for; RODZ 4 and 5 are the town and the rural area of a RODZ 3
 * gmina and carry its name, 8 and 9 are parts of a city. */
static int s_is_gmina(const rz_adapter_unit_t *u)
{
    return strlen(u->code) == 7 && u->tenant &&
           (u->code[6] == '1' || u->code[6] == '2' || u->code[6] == '3');
}

int rz__budget_unit_by_name(const rz_budget_state_t *st, rz_out_t *out,
                            const char *name, char code[8], char *why,
                            size_t why_len)
{
    char key[256];
    rz__budget_fold(name, key, sizeof key);
    for (size_t i = 0; i < st->n_names; i++)
        if (strcmp(st->name_keys[i], key) == 0) {
            snprintf(code, 8, "%s", st->name_codes[i]);
            return 0;
        }
    if (!rz_out_has_units(out)) {
        snprintf(why, why_len,
                 "unit '%s' is not in budget.tenant_names and no TERC "
                 "register is loaded (teryt)",
                 name);
        return -1;
    }
    size_t found = 0;
    char codes[128] = "";
    rz_adapter_unit_t u;
    for (size_t i = 0; rz_out_unit_at(out, i, &u) == 0; i++) {
        char ukey[256];
        if (!s_is_gmina(&u))
            continue;
        rz__budget_fold(u.name, ukey, sizeof ukey);
        if (strcmp(ukey, key) != 0)
            continue;
        size_t l = strlen(codes);
        if (found < 8)
            snprintf(codes + l, sizeof codes - l, "%s%s", found ? ", " : "",
                     u.code);
        if (found++ == 0)
            snprintf(code, 8, "%s", u.code);
    }
    if (found == 1)
        return 0;
    if (found == 0)
        snprintf(why, why_len,
                 "unit '%s' is no gmina in the TERC register nor in "
                 "budget.tenant_names",
                 name);
    else
        snprintf(why, why_len,
                 "unit '%s' names %zu gminy in the TERC register (%s): "
                 "say which in budget.tenant_names",
                 name, found, codes);
    code[0] = '\0';
    return -1;
}

static int s_zeros(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

int rz__budget_tenant_from_bdl(const char *code, char out[8], const char **why)
{
    size_t n = strlen(code);
    for (size_t i = 0; i < n; i++)
        if (code[i] < '0' || code[i] > '9')
            n = 0;
    *why = "is not a GUS BDL unit code (7 or 12 digits)";
    if (n != 7 && n != 12)
        return -1;
    if (s_zeros(code, n)) {
        *why = "is POLSKA, the whole country: no municipality's tenant";
        return -1;
    }
    if (n == 7) {
        if (rz__budget_tenant_from_code(code, out) == 0)
            return 0;
        *why = "is not a TERYT code of a voivodeship, powiat or gmina";
        return -1;
    }
    const char *woj = code + 2, *nuts = code + 4, *pow = code + 7,
               *gmi = code + 9;
    if (s_zeros(woj, 2) || (s_zeros(pow, 2) && !s_zeros(nuts, 3))) {
        *why = "is a statistical region (NUTS makroregion, region or "
               "podregion), not a unit with a TERC code";
        return -1;
    }
    char terc[8];
    memcpy(terc, woj, 2);
    memcpy(terc + 2, pow, 2);
    memcpy(terc + 4, gmi, 3);
    terc[7] = '\0';
    if (rz__budget_tenant_from_code(terc, out) == 0)
        return 0;
    *why = "is not a BDL code of a voivodeship, powiat or gmina";
    return -1;
}
