/* shim.h - the log the power-loss shim writes (see shim.c for its ops) */
#ifndef RATUSZ_TEST_PL_SHIM_H
#define RATUSZ_TEST_PL_SHIM_H

#include <stdint.h>

enum rz_pl_op {
    RZ_PL_NAME = 1,
    RZ_PL_CREATE,
    RZ_PL_MKDIR,
    RZ_PL_WRITE,
    RZ_PL_DSYNC,
    RZ_PL_SYNC,
    RZ_PL_TRUNC,
    RZ_PL_FALLOC,
    RZ_PL_RANGE,
    RZ_PL_MSYNC,
    RZ_PL_UNLINK,
    RZ_PL_RENAME,
    RZ_PL_LINK
};

/* One record's header; WRITE and NAME are followed by len bytes. */
typedef struct rz_pl_rec {
    uint32_t op;
    uint32_t file;
    uint64_t off;
    uint64_t len;
    uint64_t arg;
} rz_pl_rec_t;

#endif
