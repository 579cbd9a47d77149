/* hello.c - a program from outside the tree, built against the installed
 * libratusz with nothing but `pkg-config --cflags --libs ratusz`.
 *
 *   hello ENDPOINT ID
 *
 * Publishes one event with the given id, waits for the broker's ack, reads
 * the event back by its seq and prints "seq N" and the stored event as a
 * CloudEvents JSON line. Exit status 0, or 1 with the reason on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ratusz/ratusz.h>

typedef struct {
    int acks;
    int code;
    uint64_t seq;
    char reason[256];
} ack_t;

static void on_ack(const rz_ack_t *a, void *user)
{
    ack_t *ack = user;
    ack->acks++;
    ack->code = a->code;
    ack->seq = a->seq;
    snprintf(ack->reason, sizeof ack->reason, "%s", a->reason ? a->reason : "");
}

static int on_event(const rz_event_t *ev, void *user)
{
    int *printed = user;
    char *json = rz_event_to_json(ev->msg);
    if (!json)
        return 1;
    printf("%s\n", json);
    free(json);
    (*printed)++;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: hello ENDPOINT ID\n");
        return 2;
    }
    char line[512], why[256];
    snprintf(line, sizeof line,
             "{\"specversion\":\"1.0\",\"id\":\"%s\","
             "\"source\":\"/1261011/thirdparty/hello\","
             "\"type\":\"pl.gov.gmina.registry.terc.unit.v1\","
             "\"subject\":\"terc:1261011\",\"tenant\":\"1261011\","
             "\"datacontenttype\":\"application/json\","
             "\"data\":{\"NAZWA\":\"Kraków\"}}",
             argv[2]);
    Ratusz__V1__Event *ev = NULL;
    int rc = rz_event_from_json(line, strlen(line), &ev, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "hello: event: %s: %s\n", rz_strerror(rc), why);
        return 1;
    }

    int status = 1;
    ack_t ack = {0};
    rz_client_t *c = rz_client_new(argv[1], NULL);
    if (!c) {
        fprintf(stderr, "hello: cannot connect to %s\n", argv[1]);
        goto done;
    }
    rz_client_set_ack_cb(c, on_ack, &ack);
    if ((rc = rz_publish(c, ev, NULL)) < 0 || (rc = rz_flush(c, 10000)) < 0) {
        fprintf(stderr, "hello: publish: %s\n", rz_strerror(rc));
        goto done;
    }
    if (ack.acks != 1 || ack.code != 0) {
        fprintf(stderr, "hello: %d acks, code %d (%s): %s\n", ack.acks,
                ack.code, rz_strerror(ack.code), ack.reason);
        goto done;
    }
    printf("seq %llu\n", (unsigned long long)ack.seq);
    int printed = 0;
    rc = rz_get_seq(c, ack.seq, on_event, &printed);
    if (rc != 1 || printed != 1) {
        fprintf(stderr, "hello: get %llu: %s %s\n", (unsigned long long)ack.seq,
                rc < 0 ? rz_strerror(rc) : "", rz_client_last_error(c));
        goto done;
    }
    status = 0;
done:
    rz_client_destroy(&c);
    rz_event_free(ev);
    return status;
}
