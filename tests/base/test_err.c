/* base/err: what a failing function leaves for its caller. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/err.h"

static int fail_with(mg_err *e, mg_err_code code, const char *what)
{
    return mg_err_set(e, code, "cannot open '%s': %s", what, "No such file or directory");
}

Test(err, set_fills_the_code_and_the_message_and_returns_minus_one)
{
    mg_err e;
    cr_assert_eq(fail_with(&e, MG_E_NOT_FOUND, "web"), -1);
    cr_assert_eq(e.code, MG_E_NOT_FOUND);
    cr_assert_str_eq(e.msg, "cannot open 'web': No such file or directory");
}

Test(err, a_caller_that_passes_null_still_gets_minus_one)
{
    cr_assert_eq(fail_with(NULL, MG_E_IO, "x"), -1);
    cr_assert_eq(mg_err_prefix(NULL, "context"), -1);
    mg_err_clear(NULL);
}

Test(err, a_long_message_is_cut_and_terminated)
{
    char big[3 * MG_ERR_SIZE];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mg_err e;
    mg_err_set(&e, MG_E_LIMIT, "%s", big);
    cr_assert_eq(strlen(e.msg), MG_ERR_SIZE - 1);
    cr_assert_eq(e.code, MG_E_LIMIT);
}

Test(err, a_message_is_one_line)
{
    mg_err e;
    mg_err_set(&e, MG_E_IO, "remote said:\nfatal: no\r\tthere");
    cr_assert_str_eq(e.msg, "remote said: fatal: no  there");
    mg_err_prefix(&e, "fetch\n%s", "x");
    cr_assert_str_eq(e.msg, "fetch x: remote said: fatal: no  there");
}

Test(err, prefix_adds_context_and_keeps_the_code)
{
    mg_err e;
    fail_with(&e, MG_E_CORRUPT, "blob");
    cr_assert_eq(mg_err_prefix(&e, "cache %s", "/var/mgd"), -1);
    cr_assert_str_eq(e.msg, "cache /var/mgd: cannot open 'blob': No such file or directory");
    cr_assert_eq(e.code, MG_E_CORRUPT);
}

Test(err, prefix_of_a_full_message_stays_within_the_buffer)
{
    char big[2 * MG_ERR_SIZE];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    mg_err e;
    mg_err_set(&e, MG_E_IO, "%s", big);
    mg_err_prefix(&e, "%s", big);
    cr_assert_eq(strlen(e.msg), MG_ERR_SIZE - 1);
}

Test(err, clear_empties_it)
{
    mg_err e;
    fail_with(&e, MG_E_IO, "x");
    mg_err_clear(&e);
    cr_assert_eq(e.code, MG_OK);
    cr_assert_str_eq(e.msg, "");
}

Test(err, a_full_disk_has_a_code_of_its_own)
{
    cr_assert_eq(mg_err_code_of_errno(ENOSPC), MG_E_NOSPACE);
    cr_assert_eq(mg_err_code_of_errno(EDQUOT), MG_E_NOSPACE);
    cr_assert_eq(mg_err_code_of_errno(EIO), MG_E_IO);
    cr_assert_eq(mg_err_code_of_errno(EACCES), MG_E_IO);
}
