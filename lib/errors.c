/* errors.c - rz_strerror and rz_err_name from the one error table */
#include <string.h>

#include "ratusz/errors.h"

struct s_err {
    int code;
    const char *name;
    const char *msg;
};

static const struct s_err s_table[] = {
#define S_ROW(name, off, msg) {name, #name, msg},
    RZ_ERRORS(S_ROW)
#undef S_ROW
};

static const struct s_err s_errno_table[] = {
    {RZ_ENOMEM, "ENOMEM", NULL},       {RZ_EINVAL, "EINVAL", NULL},
    {RZ_EAGAIN, "EAGAIN", NULL},       {RZ_ETIMEDOUT, "ETIMEDOUT", NULL},
    {RZ_EIO, "EIO", NULL},             {RZ_ENOSPC, "ENOSPC", NULL},
    {-ECONNREFUSED, "ECONNREFUSED", NULL}, {-EINTR, "EINTR", NULL},
    {-ENOENT, "ENOENT", NULL},         {-EACCES, "EACCES", NULL},
};

const char *rz_strerror(int code)
{
    if (code == 0)
        return "success";
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++)
        if (s_table[i].code == code)
            return s_table[i].msg;
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *rz_err_name(int code)
{
    if (code == 0)
        return "OK";
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++)
        if (s_table[i].code == code)
            return s_table[i].name;
    for (size_t i = 0; i < sizeof s_errno_table / sizeof s_errno_table[0]; i++)
        if (s_errno_table[i].code == code)
            return s_errno_table[i].name;
    return "RZ_E?";
}
