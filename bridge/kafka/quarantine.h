/* quarantine.h - Kafka records the bridge could not carry, kept with where
 * they came from and why, in a small LMDB store in the bridge's data dir.
 *
 * Every record the bridge reads is either published or quarantined: read =
 * published + quarantined. The store is keyed by where a record lives
 *
 *   key   = topic "\0" partition (u32 big-endian) offset (u64 big-endian)
 *   value = one line of JSON: {"time", "topic", "partition", "offset",
 *           "reason", "key", "headers": {name: value}, "value"} with
 *           "key_hex" / "value_hex" / a header as {"hex": ...} for bytes
 *           that are not UTF-8 text
 *
 * so a record read twice (the bridge restarted before committing its
 * offset) is kept once. Outbound events that Kafka refused for good are
 * kept with partition -1 and their broker seq as the offset.
 */
#ifndef RATUSZ_KAFKA_QUARANTINE_H
#define RATUSZ_KAFKA_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "map.h"

typedef struct rzk_quarantine rzk_quarantine_t;

/* Open (creating dir and the store if missing). NULL with err on failure. */
rzk_quarantine_t *rzk_quarantine_open(const char *dir, char *err,
                                      size_t err_len);

void rzk_quarantine_close(rzk_quarantine_t **q);

/* Keep one record. Returns 1 when stored, 0 when that topic/partition/
 * offset was already there, or a negative RZ_E* code. */
int rzk_quarantine_put(rzk_quarantine_t *q, const char *topic,
                       int32_t partition, int64_t offset, const rzk_in_t *rec,
                       const char *reason);

/* Print every record, one JSON line each, in key order. Returns the
 * number printed or a negative code. */
int64_t rzk_quarantine_list(rzk_quarantine_t *q, FILE *out);

/* Records kept. */
uint64_t rzk_quarantine_count(rzk_quarantine_t *q);

#endif
