/* map.h - the pure part of the Kafka bridge: a Ratusz event to a Kafka
 * record (topic, key, headers, value) and a Kafka record back to an event.
 *
 * No I/O and no librdkafka here, so that the place where most bugs live is
 * the easiest to test and to fuzz (tests/bridge/test_kafka_map.c,
 * tests/bridge/fuzz_kafka_map.c).
 *
 * A record the bridge writes:
 *
 *   topic   the template with {tenant}, {domain}, {type}, {topic} filled
 *           in: "ratusz.{tenant}.{domain}" -> "ratusz.1261011.budget"
 *   key     the event's subject ("station:117"), so that one entity's
 *           events land in one partition, in order; no key without one
 *   value   protobuf: the stored ratusz.v1.Event bytes (broker fields
 *             included), content-type RZK_CT_PROTOBUF
 *           cloudevents-json: the CloudEvents JSON of rz_event_to_json
 *             (structured mode), content-type RZK_CT_CE_JSON
 *   headers the CloudEvents Kafka binding's attribute headers:
 *             ce_specversion "1.0", ce_id, ce_source, ce_type,
 *             ce_subject, ce_time (RFC 3339, UTC), and the extensions
 *             ce_tenant, ce_seq (the seq in the broker of origin) and,
 *             when the broker pseudonymised personal fields for the
 *             bridge, ce_redaction ("hmac-sha256:<key id>"), plus
 *             content-type; in both formats, so that a consumer can
 *             route and filter without decoding the value
 *
 * A record the bridge reads (inbound) is recognised by its content-type:
 *
 *   application/cloudevents+json...   structured mode: the value is the
 *                                     event (rz_event_from_json)
 *   application/x-protobuf;...
 *     messageType=ratusz.v1.Event     the value is an encoded Event; the
 *                                     ce_id/ce_source/ce_type headers, when
 *                                     present, must agree with it
 *   anything else, with a ce_specversion header
 *                                     binary mode: the attributes are the
 *                                     ce_* headers and the value is the
 *                                     data, read by the same rules as
 *                                     CloudEvents JSON "data"
 *
 * The key stands in for a missing subject. Broker fields (seq,
 * ingest_time, principal) are cleared: the receiving broker sets its own.
 * Whatever does not map gets a reason, and the bridge quarantines it.
 */
#ifndef RATUSZ_KAFKA_MAP_H
#define RATUSZ_KAFKA_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "ratusz/ratusz.h"

#define RZK_CT_PROTOBUF "application/x-protobuf; messageType=ratusz.v1.Event"
#define RZK_CT_CE_JSON "application/cloudevents+json; charset=UTF-8"

/* Kafka limits a topic name to 249 characters of [a-zA-Z0-9._-]. */
#define RZK_TOPIC_MAX 249

enum rzk_format { RZK_FORMAT_PROTOBUF = 0, RZK_FORMAT_CE_JSON = 1 };

/* ---------------------------------------------------------------------------
 * Topic template
 */

enum rzk_tpl_part {
    RZK_TPL_TEXT,
    RZK_TPL_TENANT,
    RZK_TPL_DOMAIN,
    RZK_TPL_TYPE,
    RZK_TPL_TOPIC
};

#define RZK_TPL_PARTS 16

typedef struct rzk_tpl {
    int n;
    struct {
        int kind;                     /* enum rzk_tpl_part */
        char text[RZK_TOPIC_MAX + 1]; /* RZK_TPL_TEXT */
    } parts[RZK_TPL_PARTS];
} rzk_tpl_t;

/* Compile "ratusz.{tenant}.{domain}". Returns 0, or RZ_EINVAL with why:
 * an unknown placeholder, an unclosed brace, a character Kafka does not
 * allow in a topic name, too many parts. */
int rzk_tpl_compile(rzk_tpl_t *t, const char *text, char *why, size_t len);

/* The Kafka topic of ev. Characters of the event that Kafka does not allow
 * become '_'. Returns the length, or RZ_EINVAL when the name would be
 * empty or longer than RZK_TOPIC_MAX (buf holds RZK_TOPIC_MAX + 1). */
int rzk_tpl_expand(const rzk_tpl_t *t, const Ratusz__V1__Event *ev, char *buf);

/* ---------------------------------------------------------------------------
 * Records
 */

typedef struct rzk_header {
    const char *name;
    const void *value; /* NULL: a header without a value */
    size_t len;
} rzk_header_t;

#define RZK_OUT_HEADERS 12

/* An outbound record. Every pointer is borrowed from the event, the raw
 * bytes it came with, or the record itself; json (when the format is
 * cloudevents-json) is owned: release with rzk_out_clear. */
typedef struct rzk_out {
    char topic[RZK_TOPIC_MAX + 1];
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    rzk_header_t headers[RZK_OUT_HEADERS];
    size_t n_headers;
    char *json;
    char time[40];
    char seq[24];
} rzk_out_t;

/* Build the record of ev (raw/raw_len: its stored bytes, used as the
 * protobuf value). Returns 0, RZ_EINVAL (why says: no topic can be made),
 * or RZ_ENOMEM. */
int rzk_out_map(const rzk_tpl_t *t, int format, const Ratusz__V1__Event *ev,
                const uint8_t *raw, size_t raw_len, rzk_out_t *out, char *why,
                size_t why_len);

void rzk_out_clear(rzk_out_t *out);

/* An inbound record, as read from Kafka. */
typedef struct rzk_in {
    const void *key; /* NULL: no key */
    size_t key_len;
    const void *value; /* NULL: a tombstone */
    size_t value_len;
    const rzk_header_t *headers;
    size_t n_headers;
} rzk_in_t;

/* Map a Kafka record to an event that passes rz_event_check. On success
 * *out is the caller's (rz_event_free) and 0 is returned; otherwise
 * RZ_EINVALEVENT, RZ_EDECODE or RZ_ENOMEM with the reason in why. */
int rzk_in_map(const rzk_in_t *in, Ratusz__V1__Event **out, char *why,
               size_t why_len);

/* The last header named name (exact, as the binding's names are lower
 * case), or NULL. */
const rzk_header_t *rzk_header_find(const rzk_in_t *in, const char *name);

/* Format unix µs as RFC 3339 UTC ("2021-01-23T16:00:00.5Z"); 0 or -1. */
int rzk_time_format(int64_t us, char *buf, size_t len);

#endif
