/* Task evaluation of a model on a task CSV, two ways, as in the issue and the paper:
 *
 * - label likelihood: for each allowed label L, log P("L\n\n### End" | <|endoftext|> + prompt)
 *   summed over its tokens; the prediction is the best label (always a valid one), the softmax
 *   over the label scores gives per-label probabilities. The prompt is run once per row (prefill
 *   into the KV cache); each label is decoded on top of it and the cache rewound.
 * - generation: greedy decoding of up to max_new tokens with an HF-style repetition penalty over
 *   the prompt and generated tokens (logit / p if positive, x p if not), stopping at
 *   <|endoftext|> or "### End". Classification: correct when the expected label occurs exactly
 *   once (the paper's rule); regression: the first number of the answer against the target.
 *
 * Rows are rendered by the same task-CSV reader that prepare and fine-tuning use. */
#ifndef TL_TRAIN_EVAL_H
#define TL_TRAIN_EVAL_H

#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"
#include "tasks/metrics.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

typedef struct tl_eval_opts {
    int likelihood, generate; /* modes to run (likelihood applies to classification tasks) */
    int max_new;              /* generation: new tokens at most (30) */
    float repeat_penalty;     /* generation: 1.3; 1 = off */
    long limit;               /* rows at most; 0: all */
    const char *rows_out;     /* per-row JSONL report, or NULL */
} tl_eval_opts;

typedef struct tl_eval_result {
    long rows;
    tl_confusion likelihood, generation; /* classification */
    long gen_exactly_once;               /* the paper's accuracy numerator */
    tl_regress regress;                  /* regression, from generation */
    double seconds;
} tl_eval_result;

int tl_eval_run(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *t, const char *csv, const tl_eval_opts *o,
                tl_eval_result *r, tl_err *e);
void tl_eval_result_free(tl_eval_result *r);

/* Log-likelihood of each of n continuations (cont[i], len[i] tokens) after the prompt whose
 * logits `prompt_logits` ([vocab]) and KV cache (kv->pos = prompt length) are given; the cache is
 * rewound after each. scores[n]. Returns -1 when a continuation does not fit the context. */
int tl_eval_score(const tl_gpt2 *m, tl_gpt2_kv *kv, const float *prompt_logits, const int32_t *const *cont,
                  const int *len, int n, double *scores, tl_err *e);

#endif
