/* prepare: text and JSONL documents -> tokenized train/val shards, streamed with bounded memory.
 *
 * Each input file is read as documents (JSONL: one per line, its string field; text: paragraphs
 * separated by blank lines, or lines, or the whole file). Each document goes wholly to train or
 * val (a seeded draw per document) and is written as <end-of-text> + its tokens. Shards fill up to
 * `shard_tokens` and are named train_000000.bin, val_000000.bin, ...; a meta.json records the
 * tokenizer and counts. Everything is written into a staging folder first and moved into place
 * only when all inputs succeeded, so a failure leaves no partial output.
 *
 * CSV files are task data: with a task spec each row becomes one document, the paper's template
 * filled from the spec's columns (tasks/task.h), and the same split also goes to
 * finetune_train.jsonl / finetune_val.jsonl as {"prompt": ..., "response": ...} lines, keeping the
 * boundary that response-only fine-tuning needs. */
#ifndef TL_DATA_PREPARE_H
#define TL_DATA_PREPARE_H

#include <stdint.h>

#include "base/err.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

typedef enum { TL_DOCS_PARAGRAPH, TL_DOCS_LINE, TL_DOCS_FILE } tl_doc_split;

typedef struct tl_prepare_opts {
    const char *out_dir;
    float val_fraction;     /* 0..1: share of documents drawn into val */
    uint64_t shard_tokens;  /* tokens per shard file, at most INT32_MAX */
    uint64_t seed;
    tl_doc_split split;     /* how plain text files are cut into documents */
    const char *field;      /* JSONL string field holding the text ("text") */
    const char *tokenizer_name; /* recorded in meta.json ("gpt2") */
    const tl_task *task;        /* how CSV rows are rendered; NULL: CSV inputs are an error */
} tl_prepare_opts;

typedef struct tl_prepare_stats {
    uint64_t bytes;
    uint64_t docs[2], tokens[2]; /* [0] train, [1] val */
    int shards[2];
} tl_prepare_stats;

int tl_prepare(const tl_bpe *bpe, const tl_prepare_opts *o, const char *const *inputs, int n_inputs,
               tl_prepare_stats *st, tl_err *e);

/* Reads <dir>/meta.json written by tl_prepare: vocabulary size and tokenizer name. Returns 0, 1
 * when there is no meta.json, -1 when it is malformed. */
int tl_prepare_meta_read(const char *dir, int *vocab, char *tokenizer, size_t n, tl_err *e);

#endif
