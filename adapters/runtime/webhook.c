/* webhook.c - the generic sink: every event POSTed as CloudEvents JSON
 * (HTTP structured mode) with retries (libcurl) */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "runtime.h"

typedef struct s_hook {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    rz_webhook_opts_t o;
    char body[256]; /* the start of the last answer, for messages */
    size_t body_len;
} s_hook_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *user)
{
    s_hook_t *h = user;
    size_t len = size * n, room = sizeof h->body - 1 - h->body_len;
    size_t take = len < room ? len : room;
    memcpy(h->body + h->body_len, data, take);
    h->body_len += take;
    h->body[h->body_len] = '\0';
    return len;
}

static void s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int rz_webhook_open(void **sink, void *state, const char *target, char *err,
                    size_t err_len)
{
    static int inited;
    if (!inited) {
        /* once per process, before any other thread uses libcurl */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    s_hook_t *h = calloc(1, sizeof *h);
    if (!h)
        return RZ_ENOMEM;
    const rz_webhook_opts_t *o = state;
    h->o.attempts = o && o->attempts ? o->attempts : 5;
    h->o.backoff_ms = o && o->backoff_ms ? o->backoff_ms : 100;
    h->o.timeout_ms = o && o->timeout_ms ? o->timeout_ms : 10000;
    h->url = strdup(target);
    h->curl = curl_easy_init();
    h->headers = curl_slist_append(
        NULL, "Content-Type: application/cloudevents+json; charset=utf-8");
    if (h->headers)
        h->headers = curl_slist_append(h->headers, "Expect:");
    if (!h->url || !h->curl || !h->headers) {
        snprintf(err, err_len, "webhook: cannot set up libcurl");
        rz_webhook_close(h);
        return RZ_ENOMEM;
    }
    curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "ratusz-adapter/" RZ_VERSION);
    *sink = h;
    return 0;
}

int rz_webhook_event(void *sink, const Ratusz__V1__Event *ev, char *err,
                     size_t err_len)
{
    s_hook_t *h = sink;
    char *json = rz_event_to_json(ev);
    if (!json)
        return RZ_ENOMEM;
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    unsigned wait = h->o.backoff_ms;
    int rc = RZ_EIO;
    for (unsigned attempt = 1; attempt <= h->o.attempts; attempt++) {
        h->body_len = 0;
        h->body[0] = '\0';
        CURLcode cc = curl_easy_perform(h->curl);
        long status = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status >= 200 && status < 300) {
            rc = 0;
            break;
        }
        int retry = cc != CURLE_OK || status == 408 || status == 429 ||
                    status >= 500;
        if (cc != CURLE_OK)
            snprintf(err, err_len, "webhook %s: %s (attempt %u of %u)",
                     h->url, curl_easy_strerror(cc), attempt, h->o.attempts);
        else
            snprintf(err, err_len, "webhook %s: HTTP %ld for event %s%s%s",
                     h->url, status, ev->id, h->body_len ? ": " : "",
                     h->body);
        /* one line: the answer may span several */
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        if (!retry) {
            rc = RZ_EINVAL;
            break;
        }
        if (attempt < h->o.attempts) {
            s_sleep_ms(wait);
            wait = wait * 2 > 5000 ? 5000 : wait * 2;
        }
    }
    free(json);
    return rc;
}

int rz_webhook_flush(void *sink, char *err, size_t err_len)
{
    (void)sink;
    (void)err;
    (void)err_len;
    return 0; /* every event was delivered when its POST returned */
}

void rz_webhook_close(void *sink)
{
    s_hook_t *h = sink;
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->url);
    free(h);
}
