/* tinyllm's edge runtime: run a GPT-2 GGUF file (f32, f16, q8_0 or q4_0 weights) on the CPU —
 * tokenize, prefill a prompt into a KV cache, sample, generate with stop strings, and classify an
 * input among a set of labels. Links libc, libm and pthreads only (libtinyllm.a).
 *
 * A tl_model is immutable once opened and may be shared by any number of threads; a tl_ctx (the
 * KV cache, scratch buffers and a team of compute threads) is used by one thread at a time. There
 * is no global state. Functions that can fail take a tl_err * last and return 0 / -1 (or NULL),
 * with a one-line message in err->msg.
 *
 *   tl_model *m;  tl_ctx *c;  tl_err e;
 *   tl_model_open(&m, "gesture-q8_0.gguf", &e);
 *   tl_ctx_init(&c, m, 0, 2, &e);                    // the model's context, 2 threads
 *   tl_gen_params p = tl_gen_default();  p.n_predict = 32;
 *   tl_gen_result r;
 *   tl_generate(c, "The sensor", &p, &r, &e);        // text arrives through p.on_text
 */
#ifndef TINYLLM_TINYLLM_H
#define TINYLLM_TINYLLM_H

#include <stddef.h>
#include <stdint.h>

#include "tinyllm/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_model tl_model;
typedef struct tl_ctx tl_ctx;

/* ---- model ---- */

typedef struct tl_model_info {
    int n_layer, n_head, n_embd, n_ctx, vocab;
    uint32_t type;           /* the ggml type of most weights: 0 f32, 1 f16, 2 q4_0, 8 q8_0 */
    const char *type_name;   /* "f32", "f16", "q4_0", "q8_0" */
    size_t weight_bytes;     /* tensor data in the file */
    long long n_params;
    int eot;                 /* <|endoftext|>: the first token of every prompt, and the end of text */
    const char *name;        /* general.name, or "" */
    const char *tokenizer;   /* "gpt2" or a trained tokenizer's name */
    /* the task the file carries (tinyllm.task.*), or task_name NULL */
    const char *task_name, *task_instruction;
    int task_regression;     /* 0: classification among task_labels */
    int n_labels;
    const char *const *task_labels;
} tl_model_info;

/* Opens a GGUF file: maps it (weights are used in place, never copied), checks it as hostile input,
 * builds its tokenizer. */
int tl_model_open(tl_model **out, const char *path, tl_err *e);
void tl_model_free(tl_model *m);
const tl_model_info *tl_model_get_info(const tl_model *m);
/* Bytes a context of n_ctx positions (0: the model's) needs: KV cache + scratch. */
size_t tl_ctx_bytes(const tl_model *m, int n_ctx);
/* Before opening: the memory a model file and a context would take (weights as stored; quantized
 * matrices are held once, repacked), from the file's header alone. */
int tl_model_estimate(const char *path, int n_ctx, size_t *weights, size_t *ctx, tl_err *e);

/* Tokenizes len bytes (any bytes; special-token text is ordinary text). Writes up to cap ids and
 * returns how many the text has (more than cap: call again with room for that many); -1 on error. */
long tl_tokenize(const tl_model *m, const char *text, size_t len, int32_t *ids, long cap, tl_err *e);
/* The bytes of one token (not NUL-terminated), or NULL for an id outside the vocabulary. */
const char *tl_token_bytes(const tl_model *m, int32_t id, size_t *len);

/* The task prompt for an input: "### Instruction:\n<instruction>\n\n### Input:\n<input, numbers
 * rendered as in training>\n\n### Response:\n", NUL-terminated, malloc'd (free it). instruction
 * NULL: the task's own. NULL when the model carries no task, or its task takes the instruction
 * from a CSV column (as gesture's does) and none is given. */
char *tl_task_prompt_for(const tl_model *m, const char *instruction, const char *input, tl_err *e);

/* ---- context ---- */

/* n_ctx 0: the model's context length. n_threads >= 1. kernels NULL: the best set for this CPU, or
 * one of "scalar", "avx2", "avx512", "avx512-d256", "neon", "neon-dot" (the environment variable TINYLLM_KERNELS
 * does the same). */
int tl_ctx_init(tl_ctx **out, const tl_model *m, int n_ctx, int n_threads, tl_err *e);
int tl_ctx_init_kernels(tl_ctx **out, const tl_model *m, int n_ctx, int n_threads, const char *kernels, tl_err *e);
void tl_ctx_free(tl_ctx *c);
const char *tl_ctx_kernels(const tl_ctx *c);
int tl_ctx_n_ctx(const tl_ctx *c);
/* Positions filled so far; tl_ctx_rewind forgets those from pos on (0 <= pos <= the current). */
int tl_ctx_pos(const tl_ctx *c);
void tl_ctx_rewind(tl_ctx *c, int pos);
/* Feeds tokens[0..n) at the next positions and returns the next-token logits after the last one
 * ([vocab] floats, valid until the next call), or NULL when n is 0 or they would overflow the
 * context (an error naming both sizes: never silent truncation) or an id is outside the vocabulary.
 * With all_logits non-NULL it receives [n][vocab] logits, one row per fed token. */
const float *tl_ctx_eval(tl_ctx *c, const int32_t *tokens, int n, float *all_logits, tl_err *e);

/* ---- sampling and generation ---- */

typedef struct tl_sampling {
    float temp;            /* 0: greedy (argmax, ties to the lowest id) */
    int top_k;             /* 0: off */
    float top_p;           /* 1: off */
    float min_p;           /* 0: off; keeps tokens with p >= min_p * p_max */
    float repeat_penalty;  /* 1: off; llama.cpp's: logit / p if positive, logit * p if not */
    int repeat_last_n;     /* tokens the penalty looks back over (0: none, -1: the whole context) */
    uint64_t seed;
} tl_sampling;

/* llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat penalty 1.0 over 64. */
tl_sampling tl_sampling_default(void);

typedef enum { TL_FINISH_STOP, TL_FINISH_LENGTH, TL_FINISH_EOT, TL_FINISH_CANCEL } tl_finish;

typedef struct tl_gen_params {
    tl_sampling sampling;
    int n_predict;                 /* new tokens at most; -1: until the context is full */
    const char *const *stop;       /* stop strings (n_stop of them): the text ends before the first */
    int n_stop;
    int add_eot;                   /* 1 (default): the prompt starts with <|endoftext|>, as in training */
    /* Called with each piece of new text as soon as it cannot be part of a stop string and ends on
     * a whole UTF-8 character (the last piece may end mid-character only at the end of the text);
     * return non-zero to cancel. May be NULL. */
    int (*on_text)(void *user, const char *text, size_t len);
    void *user;
} tl_gen_params;

typedef struct tl_gen_result {
    int n_prompt, n_gen;           /* tokens fed (with the leading <|endoftext|>) and generated */
    tl_finish finish;
    double prefill_s, gen_s;       /* wall-clock seconds of each phase */
} tl_gen_result;

tl_gen_params tl_gen_default(void);
/* Resets the context, feeds the prompt and generates. The text generated (without a stop string
 * that ended it) goes to on_text. Errors: prompt + n_predict over the context (named, never cut). */
int tl_generate(tl_ctx *c, const char *prompt, const tl_gen_params *p, tl_gen_result *r, tl_err *e);

/* Scores each label as the sum of its tokens' log-probabilities after the prompt (with the leading
 * <|endoftext|>); `suffix` (may be NULL, e.g. "\n\n### End") is appended to every label. The prompt
 * is fed once and each label scored on its KV cache. logprob[i] gets label i's score and prob[i]
 * (may be NULL) the softmax over the n scores. Returns the best label's index, or -1. */
int tl_classify(tl_ctx *c, const char *prompt, const char *const *labels, int n, const char *suffix, double *logprob,
                double *prob, tl_err *e);

#ifdef __cplusplus
}
#endif

#endif
