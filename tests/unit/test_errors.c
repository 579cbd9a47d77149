/* test_errors.c - the one error table: names, texts, stable numbers */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "ratusz/errors.h"

static void test_errors_own_codes_are_in_the_reserved_band(void **state)
{
    (void)state;
#define CHECK(name, off, msg)                                                 \
    assert_true(name <= RZ_ERR_BASE - 1 && name > RZ_ERR_BASE - 100);
    RZ_ERRORS(CHECK)
#undef CHECK
}

static void test_errors_wire_numbers_never_change(void **state)
{
    (void)state;
    /* These travel in Error.code and Ack.code: clients depend on them. */
    assert_int_equal(RZ_EBADFRAME, -32001);
    assert_int_equal(RZ_ESTOREFULL, -32007);
    assert_int_equal(RZ_EBADREQ, -32016);
    assert_int_equal(RZ_ECONFLICT, -32017);
    assert_int_equal(RZ_EDISKFULL, -32018);
}

static void test_errors_every_code_has_name_and_text(void **state)
{
    (void)state;
#define CHECK(name, off, msg)                                                 \
    assert_string_equal(rz_err_name(name), #name);                            \
    assert_string_equal(rz_strerror(name), msg);
    RZ_ERRORS(CHECK)
#undef CHECK
}

static void test_errors_errno_codes_use_strerror(void **state)
{
    (void)state;
    assert_string_equal(rz_err_name(RZ_ENOMEM), "ENOMEM");
    assert_string_equal(rz_strerror(RZ_ENOMEM), strerror(ENOMEM));
    assert_string_equal(rz_strerror(0), "success");
    assert_string_equal(rz_err_name(-31999), "RZ_E?");
    assert_string_equal(rz_strerror(-31999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_own_codes_are_in_the_reserved_band),
        cmocka_unit_test(test_errors_wire_numbers_never_change),
        cmocka_unit_test(test_errors_every_code_has_name_and_text),
        cmocka_unit_test(test_errors_errno_codes_use_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
