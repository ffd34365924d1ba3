/* Fuzzes tinyllm serve's request handling end to end: a real server (libmicrohttpd + the API layer,
 * src/serve/) on a loopback port over a tiny model with a task, fed one HTTP request per input.
 * Input: byte 0 picks the endpoint (method + URL, below), byte 1 its flags (bit 0: stream forced on
 * for bodies that are objects; bit 1: a wrong content type), the rest is the request body. Every
 * answer must be a complete HTTP response with a status the API documents (200, or 4xx/503 with
 * OpenAI's error object), never 5xx otherwise, never a hang; a 200 JSON body parses, a 200 stream
 * ends (`data: [DONE]`, or the native endpoint's chunk with "stop": true). One server serves the whole run, so state carried from one request to
 * the next (slots, queue, metrics) is fuzzed too; every 256 inputs /health must still say ok. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/vec.h"
#include "common.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "serve/serve.h"
#include "tasks/task.h"
#include "tinyllm/tinyllm.h"

static const struct {
    const char *method, *url;
} endpoint[] = {
    {"POST", "/v1/completions"}, {"POST", "/v1/chat/completions"}, {"POST", "/completion"}, {"POST", "/v1/classify"},
    {"POST", "/tokenize"},       {"POST", "/detokenize"},          {"GET", "/health"},      {"GET", "/v1/models"},
    {"GET", "/metrics"},         {"GET", "/"},                     {"PUT", "/v1/completions"}, {"POST", "/nowhere"},
};
#define N_ENDPOINTS (int)(sizeof endpoint / sizeof endpoint[0])

static int port;

/* The tiny model (the fixture tokenizer, 1 layer of width 8, a 256-token context, a labelled task),
 * written as GGUF into the scratch folder, and the server over it. */
static void start_server(void) {
    static tl_gpt2 m;
    static tl_task task;
    static tl_model *model;
    static tl_serve *srv;
    tl_err e;
    const tl_bpe *bpe = tl_fuzz_tiny_bpe();
    tl_gpt2_config c = {.n_layer = 1, .n_head = 1, .n_embd = 8, .n_ctx = 256, .vocab = tl_bpe_vocab_size(bpe)};
    c.padded_vocab = (c.vocab + 127) / 128 * 128;
    static const char spec[] = "name = fuzz\ninstruction = Name the reading.\ninput_column = input\n"
                               "output_column = output\nlabels = low, high\nnumbers = round:1\n";
    const char *task_path = tl_fuzz_file("fuzz.task", spec, sizeof spec - 1);
    const char *gguf = tl_fuzz_path("serve.gguf");
    if (tl_task_load(&task, task_path, &e) || tl_gpt2_init(&m, &c, &e)) goto fail;
    tl_gpt2_init_weights(&m, 1);
    if (tl_gguf_export_gpt2(&m, bpe, &task, "fuzz", TL_GGML_F32, gguf, &e) || tl_model_open(&model, gguf, &e)) goto fail;
    tl_serve_config cfg;
    tl_serve_config_default(&cfg);
    cfg.port = 0;
    cfg.n_slots = 1;
    cfg.n_threads = 1;
    cfg.max_tokens = 8;
    cfg.default_tokens = 4;
    cfg.queue_timeout_s = 5;
    cfg.max_body = 1 << 16;
    cfg.access_log = NULL;
    if (tl_serve_start(&srv, &cfg, &e) || tl_serve_attach(srv, model, &task, &e)) goto fail;
    port = tl_serve_port(srv);
    return;
fail:
    fprintf(stderr, "fuzz_serve: cannot start the server: %s\n", e.msg);
    exit(1);
}

/* Sends the whole request and reads until the server closes; aborts after 20 s without progress. */
static void exchange(const tl_buf *req, tl_buf *resp) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd, rc;
    do { /* libFuzzer's timer signal can interrupt connect: start over on a new socket */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&a, sizeof a);
        if (rc && errno == EINTR) close(fd);
    } while (rc && errno == EINTR);
    TL_FUZZ_CHECK(!rc, "cannot connect to the server: %s", strerror(errno));
    for (size_t off = 0; off < req->n;) {
        ssize_t w = send(fd, req->p + off, req->n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* the server may answer (413, 400) and close before reading everything */
        off += (size_t)w;
    }
    tl_err e;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 20000);
        TL_FUZZ_CHECK(r != 0, "no answer for 20 s (%zu bytes so far)", resp->n);
        if (r < 0 && errno == EINTR) continue;
        char chunk[4096];
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        TL_FUZZ_CHECK(!tl_buf_append(resp, chunk, (size_t)got, &e), "out of memory");
    }
    close(fd);
    TL_FUZZ_CHECK(!tl_buf_append(resp, "", 1, &e), "out of memory"); /* NUL-terminated; n counts it */
    resp->n--;
}

/* A response's status and body; checks the status line and that the headers end. */
static int parse_response(const tl_buf *resp, const char **body) {
    int status = 0;
    TL_FUZZ_CHECK(sscanf(resp->p, "HTTP/1.%*[01] %3d", &status) == 1, "not an HTTP response: '%.60s'", resp->p); // NOLINT(cert-err34-c): %3d cannot overflow
    const char *end = strstr(resp->p, "\r\n\r\n");
    TL_FUZZ_CHECK(end, "the headers of a %d never end", status);
    *body = end + 4;
    return status;
}

/* The value of header `name` (with its colon) among the headers before body, or NULL. */
static const char *header(const tl_buf *resp, const char *body, const char *name) {
    size_t k = strlen(name);
    for (const char *p = strstr(resp->p, "\r\n"); p && p + 2 < body; p = strstr(p + 2, "\r\n"))
        if (!strncasecmp(p + 2, name, k)) return p + 2 + k;
    return NULL;
}

static int value_is(const char *v, const char *want) {
    while (v && *v == ' ') v++;
    return v && !strncasecmp(v, want, strlen(want));
}

static void check_answer(int ep, const tl_buf *resp) {
    const char *body;
    int status = parse_response(resp, &body);
    if (getenv("TL_FUZZ_VERBOSE")) fprintf(stderr, "  %s %s: %d %.100s\n", endpoint[ep].method, endpoint[ep].url, status, body);
    TL_FUZZ_CHECK(status == 200 || (status >= 400 && status < 500) || status == 503, "%s %s answered %d: %.200s",
                  endpoint[ep].method, endpoint[ep].url, status, body);
    if (value_is(header(resp, body, "transfer-encoding:"), "chunked")) { /* a stream: its end can be checked */
        /* OpenAI's streams end with [DONE], llama-server's native one with a chunk saying stop */
        const char *last = ep == 2 ? "\"stop\":true" : "data: [DONE]";
        if (status == 200 && value_is(header(resp, body, "content-type:"), "text/event-stream"))
            TL_FUZZ_CHECK(strstr(body, last), "a stream without its end (%s): %.200s", last, body);
        return;
    }
    if (!value_is(header(resp, body, "content-type:"), "application/json")) {
        TL_FUZZ_CHECK(status == 200, "a %d from %s %s without a JSON error object", status, endpoint[ep].method, endpoint[ep].url);
        return;
    }
    json_error_t je;
    json_t *o = json_loads(body, JSON_ALLOW_NUL, &je); /* a generated NUL is "\u0000": valid JSON */
    TL_FUZZ_CHECK(o, "%s answered %d with a body that is not JSON (%s): %.200s", endpoint[ep].url, status, je.text, body);
    if (status != 200) {
        json_t *err = json_object_get(o, "error");
        TL_FUZZ_CHECK(json_is_object(err) && json_is_string(json_object_get(err, "message")),
                      "a %d without OpenAI's error object: %.200s", status, body);
    }
    json_decref(o);
}

static void request(int ep, int wrong_type, const uint8_t *body, size_t n, tl_buf *resp) {
    tl_buf req = {0};
    tl_err e;
    char head[512];
    int h = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n", endpoint[ep].method, endpoint[ep].url, port,
                     wrong_type ? "text/plain" : "application/json", n);
    TL_FUZZ_CHECK(!tl_buf_append(&req, head, (size_t)h, &e) && !tl_buf_append(&req, body, n, &e), "out of memory");
    resp->n = 0;
    exchange(&req, resp);
    tl_buf_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static unsigned long count;
    static tl_buf resp;
    if (!port) start_server();
    if (size < 2) return 0;
    int ep = data[0] % N_ENDPOINTS, flags = data[1];
    const uint8_t *body = data + 2;
    size_t n = size - 2;
    uint8_t *forced = NULL;
    if ((flags & 1) && n >= 2 && body[0] == '{') { /* {"stream":true, + the rest of the object */
        static const char s[] = "{\"stream\":true,";
        forced = malloc(n + sizeof s);
        TL_FUZZ_CHECK(forced, "out of memory");
        memcpy(forced, s, sizeof s - 1);
        memcpy(forced + sizeof s - 1, body + 1, n - 1);
        body = forced;
        n += sizeof s - 2;
    }
    request(ep, flags & 2, body, n, &resp);
    check_answer(ep, &resp);
    free(forced);
    if (++count % 256 == 0) {
        request(6, 0, NULL, 0, &resp);
        const char *b;
        TL_FUZZ_CHECK(parse_response(&resp, &b) == 200 && strstr(b, "\"ok\""), "unhealthy after %lu requests: %.200s", count, b);
    }
    return 0;
}
