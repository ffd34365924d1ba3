/* Fine-tuning examples: (prompt, response) pairs tokenized as <end-of-text> + prompt + response,
 * with the loss on the response only, and length-grouped batches with little padding.
 *
 * Sources: JSONL lines {"prompt": ..., "response": ...} (what `prepare` writes as
 * finetune_*.jsonl), a CSV of task rows rendered with a task spec, or a prepare output folder
 * (its finetune_<split>.jsonl). Prompt and response are tokenized separately, as the template
 * keeps them apart, so the boundary is exact.
 *
 * A batch of B examples is padded to its longest member T: inputs[b, t] = seq[t], targets[b, t] =
 * seq[t + 1] where seq[t + 1] is a response token, else -1 (prompt and padding). Each epoch is a
 * seeded permutation cut into chunks of 32 B examples, each chunk sorted by length and cut into
 * batches, and the batch order shuffled: batches of similar lengths, in random order, reproducible
 * from (seed, epoch), and resumable from (epoch, batch index). */
#ifndef TL_DATA_EXAMPLES_H
#define TL_DATA_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/loader.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

typedef struct tl_example {
    size_t off;          /* into tokens */
    int n, n_prompt;     /* tokens in all (EOT + prompt + response), of which EOT + prompt */
} tl_example;

typedef struct tl_examples {
    int32_t *tokens;
    size_t n_tokens, cap;
    tl_example *ex;
    int n, ex_cap;
    int max_len;         /* longest example */
    uint64_t response_tokens;
} tl_examples;

/* Loads examples from `path` (see above; `split` picks finetune_<split>.jsonl in a folder, `task`
 * renders CSV rows and may be NULL otherwise). An example longer than max_len tokens is an error
 * naming file:line and its length: nothing is truncated silently. */
int tl_examples_load(tl_examples *x, const char *path, const char *split, const tl_task *task, const tl_bpe *bpe,
                     int max_len, tl_err *e);
void tl_examples_free(tl_examples *x);

typedef struct tl_batcher {
    const tl_examples *x;
    int B;
    uint64_t seed;
    int n_batches;
    int *order;          /* example ids, batch after batch (batch i: starts[i] .. starts[i + 1]) */
    int *starts;
    int *sorted;         /* example ids by length: the fixed batches */
    int *perm, *bstart, *border; /* scratch of the epoch layout */
    uint64_t *keys;
    tl_loader_pos pos;   /* epoch, and the next batch index in `shard` */
    int32_t *inputs, *targets; /* [B * max_len] */
    int cur_B, cur_T;    /* shape of the batch last handed out */
    int *cur_ids;        /* [B]: its example ids, row by row */
    uint64_t padded, real; /* positions handed out with and without padding (efficiency) */
} tl_batcher;

int tl_batcher_init(tl_batcher *b, const tl_examples *x, int B, uint64_t seed, tl_err *e);
void tl_batcher_free(tl_batcher *b);
/* Fills inputs/targets with the next batch (cur_B x cur_T) and advances, starting a new epoch
 * after the last batch. */
void tl_batcher_next(tl_batcher *b);
/* Validates and sets a position restored from a checkpoint. */
int tl_batcher_seek(tl_batcher *b, tl_loader_pos pos, tl_err *e);
/* Fixed batch i (0 <= i < ceil(n / B)) of the examples sorted by length: evaluation. */
void tl_batcher_fixed(tl_batcher *b, int i);

#endif
