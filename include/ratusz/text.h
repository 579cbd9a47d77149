/* text.h - numbers written for people, shared by the programs. */
#ifndef RATUSZ_TEXT_H
#define RATUSZ_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* n with a comma every three digits ("12,345") into buf; returns buf. */
const char *rz_thousands(char *buf, size_t len, uint64_t n);

#ifdef __cplusplus
}
#endif
#endif
