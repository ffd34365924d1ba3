/* `tinyllm serve`'s server: an OpenAI-compatible HTTP API (llama-server's conventions) over the edge
 * runtime — N slots, each a tl_ctx with its own KV cache and threads, a bounded queue in front of
 * them, libmicrohttpd for HTTP and jansson for JSON. One tl_serve owns everything; there is no
 * global state. Endpoints, limits and error objects: docs/serve.md.
 *
 *   tl_serve *s;
 *   tl_serve_start(&s, &cfg, &e);         // listening: /health answers 503 "loading"
 *   ... open the model ...
 *   tl_serve_attach(s, model, NULL, &e);  // slots up: /health answers 200
 *   ... wait for SIGTERM ...
 *   tl_serve_stop(s);                     // cancels what runs, joins every thread, frees
 */
#ifndef TL_SERVE_SERVE_H
#define TL_SERVE_SERVE_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "tasks/task.h"
#include "tinyllm/tinyllm.h"

typedef struct tl_serve tl_serve;

typedef struct tl_serve_config {
    const char *host;          /* address to bind: "127.0.0.1" (loopback: Host headers are checked), "0.0.0.0", "::" */
    int port;                  /* 0: any free port (tl_serve_port tells which) */
    int n_slots;               /* requests generated at once, each on its own context (>= 1) */
    int n_threads;             /* compute threads per slot (>= 1) */
    int n_ctx;                 /* context per slot (0: the model's) */
    const char *kernels;       /* NULL: the best for this CPU (tl_ctx_init_kernels) */
    int queue_max;             /* requests waiting for a slot; one more gets 429 */
    double queue_timeout_s;    /* a request waiting longer gets 503 */
    int max_tokens;            /* the most a request may generate (>= 1) */
    int default_tokens;        /* when the request does not say: -1 until the end of text, the context or max_tokens */
    tl_sampling sampling;      /* defaults of the sampling parameters a request does not give */
    size_t max_body;           /* bytes of a request body */
    int max_json_depth;        /* nesting of a request body's arrays and objects */
    int max_connections;       /* open connections (each has a thread); more are refused by the listener */
    int max_per_ip;            /* open connections per client address (0: no limit) */
    int timeout_s;             /* a connection silent this long (reading or writing) is closed */
    const char *const *api_keys; /* Bearer keys (n_api_keys; 0: no authentication) */
    int n_api_keys;
    const char *cors_origin;   /* Access-Control-Allow-Origin for cross-origin browsers (NULL: none) */
    const char *model_id;      /* the id /v1/models reports and responses carry */
    FILE *access_log;          /* one JSON object per request (NULL: none); lines are flushed */
} tl_serve_config;

/* Fills in the defaults (docs/serve.md; the CLI prints them). */
void tl_serve_config_default(tl_serve_config *c);

/* Binds and starts answering: until tl_serve_attach, /health answers 503 and the model endpoints
 * 503 "loading". The config's strings and keys must outlive the server. */
int tl_serve_start(tl_serve **out, const tl_serve_config *cfg, tl_err *e);
/* The port listened on. */
int tl_serve_port(const tl_serve *s);
/* Creates the slots over m (which must outlive the server) and starts serving it. `render` gives the
 * task's number rendering for prompts (its numbers/digits/scale; NULL: numbers kept as written),
 * which the model's metadata names but tl_model_info does not carry. */
int tl_serve_attach(tl_serve *s, const tl_model *m, const tl_task *render, tl_err *e);
/* Stops listening, cancels queued and running requests, joins every thread and frees s (NULL: no-op). */
void tl_serve_stop(tl_serve *s);

#endif
