/* test_console_local.c - which metrics addresses the console may serve
 * without TLS (broker/console.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "console.h"

static void test_console_local_loopback_only(void **state)
{
    (void)state;
    assert_int_equal(rz__console_local("127.0.0.1:7602"), 1);
    assert_int_equal(rz__console_local("127.1.2.3:7602"), 1);
    assert_int_equal(rz__console_local("localhost:7602"), 1);
    assert_int_equal(rz__console_local("[::1]:7602"), 1);
    /* every address, another address, names that only look local */
    assert_int_equal(rz__console_local(":7602"), 0);
    assert_int_equal(rz__console_local("*:7602"), 0);
    assert_int_equal(rz__console_local("0.0.0.0:7602"), 0);
    assert_int_equal(rz__console_local("[::]:7602"), 0);
    assert_int_equal(rz__console_local("10.0.0.5:7602"), 0);
    assert_int_equal(rz__console_local("127.example.pl:7602"), 0);
    assert_int_equal(rz__console_local("localhost.example.pl:7602"), 0);
    assert_int_equal(rz__console_local("128.0.0.1:7602"), 0);
    assert_int_equal(rz__console_local("off"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_local_loopback_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
