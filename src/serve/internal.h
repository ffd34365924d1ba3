/* The server's insides, shared by its files: the server, its slots and queue (slots.c), one HTTP
 * request (server.c), the endpoints (api.c), request parameters (params.c), prompts (prompt.c) and
 * UTF-8 cleaning (utf8.c). Locking: one mutex (tl_serve.mu) guards the queue, every job's state and
 * text, and the metrics; nothing slow runs under it. */
#ifndef TL_SERVE_INTERNAL_H
#define TL_SERVE_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

#include "base/rng.h"
#include "base/vec.h"
#include "serve/serve.h"

#define TL_SERVE_MAX_STOP 16      /* stop strings per request (OpenAI: 4) */
#define TL_SERVE_MAX_STOP_LEN 256 /* bytes per stop string */
#define TL_SERVE_MAX_LABELS 256   /* classify labels per request */

/* ---- errors: OpenAI's {"error": {"message", "type", "param", "code"}} ---- */

typedef struct tl_apierr {
    int status;         /* HTTP status */
    char type[32];      /* "invalid_request_error", "authentication_error", ... */
    char code[40];      /* "invalid_type", "unknown_parameter", ... */
    char param[80];     /* the parameter at fault, or "" (null) */
    char msg[600];
} tl_apierr;

/* Sets every field (param may be NULL) and returns -1. */
int tl_apierr_set(tl_apierr *a, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 400 invalid_request_error. */
#define TL_BAD(a, code, param, ...) tl_apierr_set((a), 400, "invalid_request_error", (code), (param), __VA_ARGS__)
json_t *tl_apierr_json(const tl_apierr *a);

/* ---- UTF-8: ill-formed bytes become U+FFFD, one per maximal subpart (as WHATWG's TextDecoder) ---- */

typedef struct tl_utf8 {
    unsigned char held[4]; /* an incomplete sequence at the end of the last piece */
    int n;
} tl_utf8;

/* Appends s[0..n) cleaned to out; a sequence cut at the end is held in st until the next piece, or
 * replaced when `last`. */
int tl_utf8_clean(tl_utf8 *st, const char *s, size_t n, int last, tl_buf *out, tl_err *e);
/* 1 when s[0..n) is well-formed UTF-8. */
int tl_utf8_valid(const char *s, size_t n);

/* ---- jobs and slots ---- */

typedef enum { TL_JOB_QUEUED, TL_JOB_RUNNING, TL_JOB_DONE } tl_job_state;
typedef enum { TL_JOB_GENERATE, TL_JOB_CLASSIFY } tl_job_kind;

typedef struct tl_job {
    struct tl_serve *s;
    tl_job_kind kind;
    /* inputs, owned by the job */
    char *prompt;
    tl_gen_params gp;                 /* gp.stop points at stop */
    char *stop[TL_SERVE_MAX_STOP];
    char **labels;                    /* classify */
    int n_labels;
    const char *suffix;               /* classify: appended to every label (static text) */
    /* outputs and state, under s->mu */
    tl_job_state state;
    int cancel;                       /* set by the request: the client is gone */
    int slot;                         /* the slot it ran on, -1 before */
    tl_buf text;                      /* generated text so far (raw bytes) */
    tl_gen_result res;
    double *logprob, *prob;           /* classify: [n_labels] */
    int best;
    int failed;                       /* the runtime returned an error (err) */
    tl_err err;
    double t_submit, t_start, t_end;  /* tl_now() */
    pthread_cond_t cv;                /* signalled on every change */
    int refs;                         /* the request and (while queued or running) a slot */
    struct tl_job *next;
} tl_job;

typedef struct tl_slot {
    struct tl_serve *s;
    int id;
    tl_ctx *ctx;
    pthread_t thread;
    int started;
} tl_slot;

/* The endpoints, for routing and the request counters of /metrics. */
typedef enum {
    TL_EP_INDEX, TL_EP_ASSET, TL_EP_HEALTH, TL_EP_METRICS, TL_EP_MODELS, TL_EP_MODEL, TL_EP_COMPLETIONS, TL_EP_CHAT,
    TL_EP_COMPLETION, TL_EP_TOKENIZE, TL_EP_DETOKENIZE, TL_EP_CLASSIFY, TL_EP_OTHER, TL_EP_COUNT
} tl_endpoint;
extern const char *const tl_endpoint_names[TL_EP_COUNT];

#define TL_N_CODES 14 /* the statuses counted one by one; the last bucket is "other" */
extern const int tl_status_codes[TL_N_CODES];

typedef struct tl_serve_metrics {
    unsigned long long prompt_tokens, gen_tokens;  /* totals over finished generations */
    double prompt_s, gen_s;                        /* seconds spent in prefill and decode */
    unsigned long long requests[TL_EP_COUNT][TL_N_CODES];
    unsigned long long rejected_full, rejected_timeout, cancelled;
    int connections;
} tl_serve_metrics;

struct tl_serve {
    tl_serve_config cfg;
    struct MHD_Daemon *daemon;
    int port, loopback;
    pthread_mutex_t mu, log_mu;
    pthread_cond_t work;              /* a job was queued, or stopping */
    int ready, stopping;
    const tl_model *m;
    const tl_model_info *info;
    tl_task render;                   /* number rendering only */
    int n_ctx;
    tl_slot *slots;
    int n_slots;
    tl_job *head, *tail;              /* the queue */
    int queued, running;
    tl_rng rng;                       /* response ids and seeds of requests without one */
    long long started;                /* time(NULL) at start */
    tl_serve_metrics met;
};

/* Starts n slots (contexts + worker threads) / stops and joins them (queued jobs are dropped). */
int tl_slots_start(struct tl_serve *s, tl_err *e);
void tl_slots_stop(struct tl_serve *s);
tl_job *tl_job_new(struct tl_serve *s, tl_job_kind kind, tl_err *e);
/* Drops one reference; the last frees the job. Call with s->mu held. */
void tl_job_unref_locked(tl_job *j);
/* Queues j (taking the slot's reference), or fails with 429 when the queue is full / 503 when
 * the server is stopping. */
int tl_job_submit(tl_job *j, tl_apierr *a);

/* ---- one HTTP request ---- */

typedef struct tl_req {
    struct tl_serve *s;
    struct MHD_Connection *conn;
    tl_endpoint ep;
    char method[16];                  /* for the log: cut */
    char path[640];                   /* for the log: the first 200 bytes of the URL as UTF-8 */
    char remote[64];
    tl_buf body;
    int too_big, responded;
    int gone;                         /* the client left before the answer */
    double t0;
    /* for the access log and /metrics */
    int status;
    size_t bytes;
    char err_code[40];
    int slot, prompt_tokens, completion_tokens;
    double queue_ms;
    const char *finish;
    /* a generation (api.c) */
    tl_job *job;
    void *gen;                        /* api.c's per-request state, freed by tl_api_req_free */
} tl_req;

/* Responses; each records status and size for the log. o is consumed. */
enum MHD_Result tl_respond_json(tl_req *r, int status, json_t *o);
enum MHD_Result tl_respond_error(tl_req *r, const tl_apierr *a);
enum MHD_Result tl_respond_data(tl_req *r, int status, const char *ctype, const void *data, size_t n);
/* A streaming text/event-stream response read through tl_api_stream_read. */
enum MHD_Result tl_respond_stream(tl_req *r);
/* 0 when the client has closed its side of the connection (or it failed). */
int tl_client_alive(tl_req *r);
/* The connection's inactivity timeout: off while a request waits on the model, back (and
 * restarted) when there is something to send. */
void tl_conn_timeout_off(tl_req *r);
void tl_conn_timeout_on(tl_req *r);

/* Waits, without holding s->mu, until j has left the queue (until_done 0) or finished (1): 0; the
 * queue timeout passed (j dropped, 503 in a): -1; the client went away or the server is stopping
 * (j cancelled): -2. */
int tl_job_wait(tl_req *r, tl_job *j, int until_done, tl_apierr *a);

/* ---- endpoints (api.c) ---- */

enum MHD_Result tl_api_handle(tl_req *r);
ssize_t tl_api_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void tl_api_req_free(tl_req *r);
/* Renders /metrics into b. */
int tl_api_metrics(struct tl_serve *s, tl_buf *b, tl_err *e);

/* ---- request parameters (params.c) ---- */

/* Request bodies: a JSON object, duplicate keys and depth over the limit rejected. */
json_t *tl_params_parse(const struct tl_serve *s, const char *body, size_t n, tl_apierr *a);
/* The first key of o not in allowed (NULL-terminated): 400 unknown_parameter. */
int tl_params_keys(json_t *o, const char *const *allowed, tl_apierr *a);
/* Optional fields: absent or null leave *out as it is and return 0; present and right return 1;
 * otherwise 400 naming the parameter (-1). */
int tl_params_int(json_t *o, const char *key, long long lo, long long hi, long long *out, tl_apierr *a);
int tl_params_num(json_t *o, const char *key, double lo, double hi, double *out, tl_apierr *a);
int tl_params_bool(json_t *o, const char *key, int *out, tl_apierr *a);
int tl_params_str(json_t *o, const char *key, size_t max, const char **out, tl_apierr *a);
/* A parameter this server takes only at its neutral value (e.g. presence_penalty 0, n 1): another
 * value is 400 unsupported_value. */
int tl_params_neutral(json_t *o, const char *key, tl_apierr *a);
/* stop: a string or an array of strings (at most TL_SERVE_MAX_STOP, each 1..TL_SERVE_MAX_STOP_LEN
 * bytes), copied into stop[*n...]. */
int tl_params_stop(json_t *o, const char *key, char **stop, int *n, tl_apierr *a);

/* ---- prompts (prompt.c) ---- */

/* The task template around one input: "### Instruction:\n<instruction>\n\n### Input:\n<input,
 * numbers rendered as the model's task renders them>\n\n### Response:\n". instruction NULL: the
 * model's. Errors: the model has no task, or its instruction lives in its data and none is given. */
int tl_prompt_task(const struct tl_serve *s, const char *instruction, const char *input, tl_buf *out, tl_apierr *a);
/* Chat messages onto the template (docs/serve.md): system messages are the instruction, earlier
 * user/assistant turns complete examples, the last user message the input. out ends NUL-terminated
 * (the NUL not counted in out->n). */
int tl_prompt_chat(const struct tl_serve *s, json_t *messages, tl_buf *out, tl_apierr *a);

/* ---- web page (generated from web/ at build time) ---- */

typedef struct tl_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t n;
} tl_asset;
extern const tl_asset tl_assets[];
extern const int tl_n_assets;

#endif
