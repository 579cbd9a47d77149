/* harness.c - test helpers: temp dirs, free ports, the real ratuszd process */
#include "harness.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int rzt_tmpdir(char *path, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, len, "%s/ratusz-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(path) ? 0 : -1;
}

static int s_unlink(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

void rzt_rmtree(const char *path)
{
    nftw(path, s_unlink, 16, FTW_DEPTH | FTW_PHYS);
}
