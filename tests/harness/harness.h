/* harness.h - test helpers: temp dirs, free ports, the real ratuszd process */
#ifndef RATUSZ_TEST_HARNESS_H
#define RATUSZ_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Make a fresh directory under $TMPDIR (or /tmp); path gets its name. */
int rzt_tmpdir(char *path, size_t len);

/* Remove a directory tree (rm -rf). */
void rzt_rmtree(const char *path);

#endif
