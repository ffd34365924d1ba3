/* The HTTP side of the server: libmicrohttpd with a thread per connection, routing, the checks every
 * request passes before an endpoint sees it (Host on loopback, method, API key, content type, body
 * size), responses, the access log and the server's life cycle (contracts in serve.h, internal.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "serve/internal.h"

const char *const tl_endpoint_names[TL_EP_COUNT] = {
    "/", "/<asset>", "/health", "/metrics", "/v1/models", "/v1/models/{id}", "/v1/completions", "/v1/chat/completions",
    "/completion", "/tokenize", "/detokenize", "/v1/classify", "other"};
const int tl_status_codes[TL_N_CODES] = {200, 204, 400, 401, 403, 404, 405, 413, 415, 429, 499, 500, 503, 0};

void tl_serve_config_default(tl_serve_config *c) {
    *c = (tl_serve_config){.host = "127.0.0.1",
                           .port = 8080,
                           .n_slots = 1,
                           .n_threads = 1,
                           .queue_max = 64,
                           .queue_timeout_s = 60,
                           .max_tokens = 512,
                           .default_tokens = -1,
                           .sampling = tl_sampling_default(),
                           .max_body = 1 << 20,
                           .max_json_depth = 16,
                           .max_connections = 128,
                           .timeout_s = 30,
                           .model_id = "model"};
}

/* ---- responses ---- */

static void common_headers(tl_req *r, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->s->cfg.cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->s->cfg.cors_origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

static enum MHD_Result queue(tl_req *r, int status, struct MHD_Response *resp, size_t n) {
    if (!resp) return MHD_NO;
    common_headers(r, resp);
    if (status == 429 || status == 503) MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = status;
    r->bytes = n;
    return ok;
}

enum MHD_Result tl_respond_json(tl_req *r, int status, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    if (!s) { /* only when memory ran out building it */
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":\"out_of_memory\"}}";
        return tl_respond_data(r, 500, "application/json", oom, sizeof oom - 1);
    }
    size_t n = strlen(s);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, s, MHD_RESPMEM_MUST_FREE);
    if (!resp) free(s);
    else MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    return queue(r, status, resp, n);
}

enum MHD_Result tl_respond_error(tl_req *r, const tl_apierr *a) {
    snprintf(r->err_code, sizeof r->err_code, "%s", a->code);
    return tl_respond_json(r, a->status, tl_apierr_json(a));
}

enum MHD_Result tl_respond_data(tl_req *r, int status, const char *ctype, const void *data, size_t n) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (resp) MHD_add_response_header(resp, "Content-Type", ctype);
    return queue(r, status, resp, n);
}

enum MHD_Result tl_respond_stream(tl_req *r) {
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, tl_api_stream_read, r, NULL);
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    }
    return queue(r, 200, resp, 0);
}

static enum MHD_Result respond_asset(tl_req *r, const tl_asset *a) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(a->n, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", a->type);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    return queue(r, 200, resp, a->n);
}

static enum MHD_Result fail(tl_req *r, int status, const char *type, const char *code, const char *msg) {
    tl_apierr a;
    tl_apierr_set(&a, status, type, code, NULL, "%s", msg);
    return tl_respond_error(r, &a);
}

/* ---- connections ---- */

int tl_client_alive(tl_req *r) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    char c;
    ssize_t k = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k > 0) return 1; /* the next request of a pipelining client */
    if (k == 0) return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

void tl_conn_timeout_off(tl_req *r) { MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u); }

void tl_conn_timeout_on(tl_req *r) {
    /* from 0 to the timeout restarts MHD's inactivity clock (connection.c, MHD 0.9.75) */
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)r->s->cfg.timeout_s);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t n) {
    char host[INET6_ADDRSTRLEN + 2] = "?";
    if (sa && getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), host, sizeof host,
                          NULL, 0, NI_NUMERICHOST))
        snprintf(host, sizeof host, "?");
    snprintf(out, n, "%s", host);
}

/* ---- routing and the checks before an endpoint ---- */

static const struct route {
    const char *path;
    tl_endpoint ep;
    int post;
} routes[] = {
    {"/", TL_EP_INDEX, 0},
    {"/index.html", TL_EP_INDEX, 0},
    {"/health", TL_EP_HEALTH, 0},
    {"/v1/health", TL_EP_HEALTH, 0},
    {"/metrics", TL_EP_METRICS, 0},
    {"/v1/models", TL_EP_MODELS, 0},
    {"/models", TL_EP_MODELS, 0},
    {"/v1/completions", TL_EP_COMPLETIONS, 1},
    {"/completions", TL_EP_COMPLETIONS, 1},
    {"/v1/chat/completions", TL_EP_CHAT, 1},
    {"/chat/completions", TL_EP_CHAT, 1},
    {"/completion", TL_EP_COMPLETION, 1},
    {"/tokenize", TL_EP_TOKENIZE, 1},
    {"/detokenize", TL_EP_DETOKENIZE, 1},
    {"/v1/classify", TL_EP_CLASSIFY, 1},
    {"/classify", TL_EP_CLASSIFY, 1},
};

static tl_endpoint route(const char *url, int *post) {
    *post = 0;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (!strcmp(url, routes[i].path)) {
            *post = routes[i].post;
            return routes[i].ep;
        }
    if (!strncmp(url, "/v1/models/", 11) && url[11]) return TL_EP_MODEL;
    for (int i = 0; i < tl_n_assets; i++)
        if (!strcmp(url, tl_assets[i].path)) return TL_EP_ASSET;
    return TL_EP_OTHER;
}

/* Host must name the loopback interface when that is all the server listens on: a web page whose
 * name was rebound to 127.0.0.1 (DNS rebinding) sends its own name. */
static int host_ok(const char *host) {
    if (!host) return 1; /* HTTP/1.0 without Host: not a browser */
    char h[256];
    snprintf(h, sizeof h, "%s", host);
    char *end = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
    if (h[0] == '[') {
        if (!end) return 0;
        end[1] = 0;
    } else if (end) {
        *end = 0;
    }
    return !strcasecmp(h, "localhost") || !strcmp(h, "[::1]") || !strncmp(h, "127.", 4);
}

static int content_type_json(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    size_t n = strlen("application/json");
    return !strncasecmp(ct, "application/json", n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Constant-time comparison of the Bearer token with each key. */
static int key_ok(const tl_serve *s, const char *auth) {
    if (!s->cfg.n_api_keys) return 1;
    if (!auth || strncasecmp(auth, "Bearer ", 7)) return 0;
    const char *tok = auth + 7;
    while (*tok == ' ') tok++;
    size_t n = strlen(tok);
    int ok = 0;
    for (int i = 0; i < s->cfg.n_api_keys; i++) {
        const char *k = s->cfg.api_keys[i];
        size_t kn = strlen(k);
        unsigned diff = (unsigned)(kn ^ n);
        for (size_t j = 0; j < kn; j++) diff |= (unsigned char)k[j] ^ (unsigned char)(j < n ? tok[j] : 0);
        ok |= diff == 0;
    }
    return ok;
}

static int is_ready(tl_serve *s) {
    pthread_mutex_lock(&s->mu);
    int ok = s->ready && !s->stopping;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static enum MHD_Result dispatch(tl_req *r, const char *url) {
    tl_serve *s = r->s;
    switch (r->ep) {
    case TL_EP_INDEX: return respond_asset(r, &tl_assets[0]);
    case TL_EP_ASSET:
        for (int i = 0; i < tl_n_assets; i++)
            if (!strcmp(url, tl_assets[i].path)) return respond_asset(r, &tl_assets[i]);
        break;
    case TL_EP_HEALTH:
        if (is_ready(s)) return tl_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case TL_EP_METRICS: {
        tl_buf b = {0};
        tl_err e;
        if (tl_api_metrics(s, &b, &e)) {
            tl_buf_free(&b);
            return fail(r, 500, "server_error", "internal_error", e.msg);
        }
        struct MHD_Response *resp = MHD_create_response_from_buffer(b.n, b.p, MHD_RESPMEM_MUST_FREE);
        if (!resp) tl_buf_free(&b);
        else MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        return queue(r, 200, resp, b.n);
    }
    default: break;
    }
    if (!is_ready(s)) {
        pthread_mutex_lock(&s->mu);
        int stopping = s->stopping;
        pthread_mutex_unlock(&s->mu);
        return fail(r, 503, "unavailable_error", stopping ? "shutting_down" : "model_loading",
                    stopping ? "the server is shutting down" : "Loading model");
    }
    return tl_api_handle(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    tl_serve *s = cls;
    tl_req *r = *con_cls;
    if (!r) { /* the headers are in: everything that needs no body is decided now */
        tl_err e;
        if (!(r = tl_calloc(1, sizeof *r, &e))) return MHD_NO;
        *con_cls = r;
        r->s = s;
        r->conn = conn;
        snprintf(r->method, sizeof r->method, "%s", method);
        for (char *c = r->method; *c; c++)
            if (*c < 0x21 || *c > 0x7e) *c = '?'; /* a token, but the log must stay JSON */
        r->t0 = tl_now();
        r->slot = -1;
        tl_buf p = {0};
        tl_utf8 st = {{0}, 0};
        size_t ul = strlen(url);
        if (!tl_utf8_clean(&st, url, ul < 200 ? ul : 200, 1, &p, &e)) snprintf(r->path, sizeof r->path, "%.*s", (int)p.n, p.p ? p.p : "");
        tl_buf_free(&p);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        addr_text(ci ? ci->client_addr : NULL, r->remote, sizeof r->remote);
        int post;
        r->ep = route(url, &post);
        int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        if (s->loopback && !host_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")))
            return fail(r, 403, "invalid_request_error", "host_not_allowed",
                        "the Host header does not name this loopback server (DNS rebinding protection; --host opens it to other names)");
        if (r->ep == TL_EP_OTHER) {
            char msg[720];
            snprintf(msg, sizeof msg, "no endpoint at %s (docs/serve.md lists them)", r->path);
            return fail(r, 404, "invalid_request_error", "unknown_url", msg);
        }
        if (!strcmp(method, "OPTIONS")) {
            struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (resp) {
                MHD_add_response_header(resp, "Allow", post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
                if (s->cfg.cors_origin) {
                    MHD_add_response_header(resp, "Access-Control-Allow-Methods", post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
                    MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
                    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
                }
            }
            return queue(r, 204, resp, 0);
        }
        if (post ? strcmp(method, "POST") : !is_get) {
            struct MHD_Response *resp = NULL;
            tl_apierr a;
            tl_apierr_set(&a, 405, "invalid_request_error", "method_not_allowed", NULL, "%s %s: use %s", method, r->path, post ? "POST" : "GET");
            snprintf(r->err_code, sizeof r->err_code, "%s", a.code);
            json_t *o = tl_apierr_json(&a);
            char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
            size_t n = txt ? strlen(txt) : 0;
            if (txt && !(resp = MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE))) free(txt);
            if (!resp) return MHD_NO;
            MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
            MHD_add_response_header(resp, "Allow", post ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
            return queue(r, 405, resp, n);
        }
        int open = r->ep == TL_EP_INDEX || r->ep == TL_EP_ASSET || r->ep == TL_EP_HEALTH;
        if (!open && !key_ok(s, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization")))
            return fail(r, 401, "authentication_error", "invalid_api_key", "missing or wrong API key: send 'Authorization: Bearer <key>'");
        if (is_get) return dispatch(r, url);
        if (!content_type_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type")))
            return fail(r, 415, "invalid_request_error", "unsupported_media_type", "send the body as JSON with 'Content-Type: application/json'");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > s->cfg.max_body) r->too_big = 1;
        }
        if (r->too_big) goto too_big;
        return MHD_YES; /* the body comes in the next calls */
    }
    if (r->responded) { /* answered before the body: MHD drops it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        tl_err e;
        if (!r->too_big && r->body.n + *upload_size > r->s->cfg.max_body) r->too_big = 1;
        if (!r->too_big && tl_buf_append(&r->body, upload, *upload_size, &e)) return MHD_NO;
        if (r->too_big) tl_buf_free(&r->body);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->too_big) return dispatch(r, url);
too_big:;
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than %zu bytes (--max-body)", r->s->cfg.max_body);
    return fail(r, 413, "invalid_request_error", "request_too_large", msg);
}

/* ---- the access log and request counters ---- */

static int code_index(int status) {
    for (int i = 0; i < TL_N_CODES - 1; i++)
        if (tl_status_codes[i] == status) return i;
    return TL_N_CODES - 1;
}

static void access_log(tl_serve *s, tl_req *r, enum MHD_RequestTerminationCode toe) {
    static const char *const ends[] = {"ok", "error", "timeout", "shutdown", "read_error", "client_abort"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, ts.tv_nsec / 1000000);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:s}", "time", when, "remote", r->remote, "method", r->method,
                          "path", r->path, "status", r->status, "bytes", (json_int_t)r->bytes, "ms", (tl_now() - r->t0) * 1e3, "end",
                          (unsigned)toe < sizeof ends / sizeof *ends ? ends[toe] : "?");
    if (!o) return;
    if (r->err_code[0]) json_object_set_new(o, "error", json_string(r->err_code));
    if (r->slot >= 0) {
        json_object_set_new(o, "slot", json_integer(r->slot));
        json_object_set_new(o, "queue_ms", json_real(r->queue_ms));
    }
    if (r->prompt_tokens) json_object_set_new(o, "prompt_tokens", json_integer(r->prompt_tokens));
    if (r->finish) {
        json_object_set_new(o, "completion_tokens", json_integer(r->completion_tokens));
        json_object_set_new(o, "finish", json_string(r->finish));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!line) return;
    pthread_mutex_lock(&s->log_mu);
    fprintf(s->cfg.access_log, "%s\n", line);
    fflush(s->cfg.access_log);
    pthread_mutex_unlock(&s->log_mu);
    free(line);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    tl_serve *s = cls;
    tl_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    /* no answer of ours: the client left (nginx's 499), the server stopped, or libmicrohttpd refused
     * the rest of the request (a broken body) with its own 4xx */
    if (!r->responded)
        r->status = r->gone || toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT || toe == MHD_REQUEST_TERMINATED_READ_ERROR ? 499
                    : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN || s->stopping                                  ? 503
                                                                                                                    : 400;
    s->met.requests[r->ep][code_index(r->status)]++;
    if (r->job) {
        r->job->cancel = 1; /* a stream the client left: stop at the next token */
        tl_job_unref_locked(r->job);
        r->job = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->cfg.access_log) access_log(s, r, toe);
    tl_api_req_free(r);
    tl_buf_free(&r->body);
    free(r);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx, enum MHD_ConnectionNotificationCode code) {
    (void)conn;
    (void)socket_ctx;
    tl_serve *s = cls;
    pthread_mutex_lock(&s->mu);
    s->met.connections += code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1;
    pthread_mutex_unlock(&s->mu);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
    tl_serve *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    /* a stream whose client left ends with MHD_CONTENT_READER_END_WITH_ERROR; the access log has it */
    if (!strncmp(msg, "Application reported internal error", 35) || !strncmp(msg, "Closing connection (application error", 37)) return;
    pthread_mutex_lock(&s->log_mu);
    fprintf(stderr, "serve: http: %s\n", msg);
    pthread_mutex_unlock(&s->log_mu);
}

/* ---- life cycle ---- */

static uint64_t entropy(void) {
    uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint64_t y;
        if (read(fd, &y, sizeof y) == (ssize_t)sizeof y) x ^= y;
        close(fd);
    }
    return x;
}

int tl_serve_start(tl_serve **out, const tl_serve_config *cfg, tl_err *e) {
    *out = NULL;
    const tl_serve_config *c = cfg;
    if (c->n_slots < 1 || c->n_threads < 1 || c->queue_max < 0 || !(c->queue_timeout_s > 0) || c->max_tokens < 1 || c->max_body < 1 ||
        c->max_json_depth < 2 || c->max_connections < 1 || c->max_per_ip < 0 || c->timeout_s < 1 || c->port < 0 || c->port > 65535)
        return tl_errf(e, "serve: a limit is out of range (slots, threads, max-tokens, max-connections, timeout >= 1; queue >= 0)");
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(c->host, NULL, &hints, &ai);
    if (gai) return tl_errf(e, "--host %s: %s", c->host, gai_strerror(gai));
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    int v6 = addr.ss_family == AF_INET6, loopback;
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_port = htons((uint16_t)c->port);
        loopback = !memcmp(&a6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_port = htons((uint16_t)c->port);
        loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    tl_serve *s = tl_calloc(1, sizeof *s, e);
    if (!s) return -1;
    s->cfg = *c;
    s->n_slots = c->n_slots;
    s->loopback = loopback;
    s->started = (long long)time(NULL);
    tl_rng_seed(&s->rng, entropy());
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->log_mu, NULL);
    pthread_cond_init(&s->work, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(flags, (uint16_t)c->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)c->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                                 on_connection, s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u, MHD_OPTION_END);
    if (!s->daemon) {
        int err = errno;
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->log_mu);
        pthread_cond_destroy(&s->work);
        free(s);
        return tl_errf(e, "serve: cannot listen on %s port %d: %s", c->host, c->port, err ? strerror(err) : "libmicrohttpd refused");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : c->port;
    *out = s;
    return 0;
}

int tl_serve_port(const tl_serve *s) { return s->port; }

int tl_serve_attach(tl_serve *s, const tl_model *m, const tl_task *render, tl_err *e) {
    s->m = m;
    s->info = tl_model_get_info(m);
    if (render) s->render.numbers = render->numbers;
    if (tl_slots_start(s, e)) return -1;
    pthread_mutex_lock(&s->mu);
    s->ready = 1;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void tl_serve_stop(tl_serve *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1; /* waiting requests see it within 100 ms, running generations at their next token */
    pthread_cond_broadcast(&s->work);
    for (tl_job *j = s->head; j; j = j->next) pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->daemon); /* joins the connection threads */
    tl_slots_stop(s);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->log_mu);
    pthread_cond_destroy(&s->work);
    free(s);
}
