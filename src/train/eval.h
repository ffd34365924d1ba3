/* Task evaluation of a model on a task CSV, two ways (docs/eval.md):
 *
 * - label likelihood (classification): for each allowed label L, log P("L\n\n### End" |
 *   <|endoftext|> + prompt), summed over its tokens with log-softmax over the real vocabulary; the
 *   prediction is the best label (always a valid one) and the softmax over the label scores gives
 *   per-label probabilities. The prompt is prefilled into the KV cache once per row; each label is
 *   decoded on top of it and the cache rewound to the prompt's end.
 * - generation (the paper's way): greedy decoding of up to max_new tokens with an HF-style
 *   repetition penalty over the prompt and the answer so far (logit / p if positive, logit * p if
 *   not), stopping at <|endoftext|> or once the answer contains "### End". Classification: correct
 *   when the expected label occurs exactly once in the answer; regression: the first number of the
 *   answer against the target.
 *
 * Rows come from the task-CSV reader that prepare and fine-tuning use, so the model sees exactly the
 * text it was trained on: <|endoftext|> + encode(prompt), then encode(response). */
#ifndef TL_TRAIN_EVAL_H
#define TL_TRAIN_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/vec.h"
#include "model/gpt2.h"
#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

typedef struct tl_eval_opts {
    int likelihood, generate; /* modes to run (likelihood needs a classification task) */
    int max_new;              /* generation: new tokens at most (30) */
    float repeat_penalty;     /* generation: 1.3; 1 = off */
    long limit;               /* the first `limit` rows only; 0: all */
    const char *rows_out;     /* per-row JSONL report (written atomically), or NULL */
    int quiet;                /* no progress line */
} tl_eval_opts;

typedef struct tl_eval_result {
    long rows;
    tl_confusion likelihood;  /* classification, likelihood mode: expected x predicted */
    tl_confusion generation;  /* classification, generation: with the none/ambiguous column */
    long gen_exactly_once;    /* the paper's accuracy numerator: expected label exactly once */
    tl_regress regress;       /* regression, from generation */
    long gen_tokens;          /* tokens generated, all rows */
    long gen_stop_end, gen_stop_eot, gen_stop_max, gen_stop_ctx; /* why each answer ended */
    long prompt_tokens;       /* all rows, including each row's leading <|endoftext|> */
    int max_prompt_tokens;
    int threads;              /* rows scored at once, one per thread */
    double seconds;           /* the scoring pass, wall clock (model load and the check pass excluded) */
    double prefill_s, likelihood_s, generate_s; /* per phase, summed over the threads */
} tl_eval_result;

/* How a generated answer ended. */
typedef enum { TL_EVAL_STOP_END, TL_EVAL_STOP_EOT, TL_EVAL_STOP_MAX, TL_EVAL_STOP_CTX } tl_eval_stop;

/* The model for eval: a checkpoint file or run directory, with a LoRA adapter folded in when
 * `adapter` is non-NULL (its recorded base hash must match). Fails when the model was trained with
 * another tokenizer than `bpe`. m must not be initialised yet; on failure it is left freed. */
int tl_eval_load_model(tl_gpt2 *m, const char *path, const char *adapter, const tl_bpe *bpe, tl_err *e);

/* Log-likelihood of each of n continuations (cont[i], len[i] >= 1 tokens) after a prompt whose
 * next-token logits `prompt_logits` ([vocab]) and KV cache (kv->pos = prompt length) are given:
 * scores[i] = sum_j log softmax(logits_j)[cont[i][j]] over the first cfg.vocab logits. The cache is
 * rewound to the prompt after each continuation (entries beyond pos are overwritten later).
 * Returns -1 when a continuation does not fit the cache. */
int tl_eval_score(const tl_gpt2 *m, tl_gpt2_kv *kv, const float *prompt_logits, const int32_t *const *cont,
                  const int *len, int n, double *scores, tl_err *e);

/* One greedy step with the repetition penalty: the argmax over logits[0..V) after dividing the
 * positive logits of tokens with seen[id] != 0 by `penalty` and multiplying their negative ones by
 * it (HF's RepetitionPenaltyLogitsProcessor). Ties go to the lowest id. */
int tl_eval_greedy_token(const float *logits, int V, const unsigned char *seen, float penalty);

/* Greedy generation after a prefilled prompt (kv->pos = n_prompt, prompt_logits its next-token
 * logits; prompt[n_prompt] the tokens fed, for the penalty): up to max_new tokens, stopping at the
 * end-of-text token (not kept) or once the text contains "### End" (kept), or at the context's
 * end. The answer's tokens go to ids and its bytes to text (both cleared first; either may be
 * NULL); *stop (may be NULL) says why it ended. Leaves kv->pos after the answer. */
int tl_eval_generate(const tl_gpt2 *m, const tl_bpe *bpe, tl_gpt2_kv *kv, const float *prompt_logits,
                     const int32_t *prompt, int n_prompt, int max_new, float repeat_penalty, tl_ivec *ids, tl_buf *text,
                     tl_eval_stop *stop, tl_err *e);

/* Scores the model on the task CSV `csv`. A first pass reads every row (up to o->limit) and checks
 * it — columns, labels in the set, numeric targets, and that <|endoftext|> + prompt + the response
 * (and, with likelihood, every label's response) fits the model's context — so bad input fails
 * with path:line before any scoring; the second pass scores, with a progress line on stderr.
 * Rows are scored in batches, one row per thread (omp_get_max_threads(); each thread has its own
 * KV cache and runs the model alone), then accounted and written in file order: the results do not
 * depend on the thread count. r is filled (free it with tl_eval_result_free, also after a
 * failure). */
int tl_eval_run(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *t, const char *csv, const tl_eval_opts *o,
                tl_eval_result *r, tl_err *e);
void tl_eval_result_free(tl_eval_result *r);

/* The readable report (what tinyllm eval prints): accuracy, per-class precision/recall/F1 and the
 * confusion matrix of each mode run, or the regression errors; then timings. */
void tl_eval_print(FILE *f, const tl_task *t, const tl_eval_opts *o, const tl_eval_result *r);
/* The same as a JSON summary written atomically to `path` (docs/eval.md lists the keys). model,
 * adapter (may be NULL) and csv are recorded as given. */
int tl_eval_write_summary(const char *path, const tl_task *t, const char *model, const char *adapter, const char *csv,
                          const tl_eval_opts *o, const tl_eval_result *r, tl_err *e);

#endif
