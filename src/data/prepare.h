/* prepare: documents from text, JSONL and CSV sources -> tokenized train/val shards, mixed by
 * token ratio, tokenized on several threads, streamed with bounded memory.
 *
 * A source is a list of files or folders (a folder stands for its files, sorted by name). Each
 * file is read as documents (JSONL: one per line, its string field; text: paragraphs separated by
 * blank lines, or lines, or the whole file; CSV: one task row per document, see below). Every
 * document is written as <end-of-text> + its tokens, wholly to train or to val: the split is a
 * seeded hash of (source name, document index), so a document never lands in both, and the same
 * document of the same source lands in the same split in every mix and every repeat.
 *
 * Mixing: the next document always comes from the source furthest below its share of the tokens
 * written so far, so each source's share stays within one document of its ratio. Without a token
 * target the run ends when the first source runs out; with one, a source that runs out starts
 * over (counted as a repeat) until the target is reached.
 *
 * Output: train_000000.bin, val_000000.bin, ... (up to `shard_tokens` each) and meta.json with the
 * tokenizer, the counts and the per-source summary. Everything is written into a staging folder
 * and moved into place only when every input succeeded, so a failure leaves no partial output.
 *
 * CSV files are task data: with a task spec each row becomes one document, the paper's template
 * filled from the spec's columns (tasks/task.h); the rows also go to finetune_train.jsonl /
 * finetune_val.jsonl as {"prompt": ..., "response": ...} lines (first pass only, same split),
 * keeping the boundary that response-only fine-tuning needs. */
#ifndef TL_DATA_PREPARE_H
#define TL_DATA_PREPARE_H

#include <stdint.h>

#include "base/err.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

#define TL_PREPARE_MAX_SOURCES 64

typedef enum { TL_DOCS_PARAGRAPH, TL_DOCS_LINE, TL_DOCS_FILE } tl_doc_split;

typedef struct tl_prepare_source {
    const char *name;          /* shown in the summary, hashed into the split draw */
    const char *const *paths;  /* files or folders */
    int n_paths;
    double ratio;              /* share of the tokens, > 0; the ratios sum to 1 */
} tl_prepare_source;

typedef struct tl_prepare_opts {
    const char *out_dir;
    float val_fraction;     /* 0..1: share of documents drawn into val */
    uint64_t shard_tokens;  /* tokens per shard file, at most INT32_MAX */
    uint64_t max_tokens;    /* stop after this many tokens (train + val); 0: until a source runs out */
    uint64_t seed;
    int threads;            /* tokenizer threads, >= 1 */
    tl_doc_split split;     /* how plain text files are cut into documents */
    const char *field;      /* JSONL string field holding the text ("text") */
    const char *tokenizer_name; /* recorded in meta.json: tl_bpe_name ("gpt2", or a trained one's) */
    const char *tokenizer_spec; /* recorded in meta.json: how to load it again ("gpt2" or its folder) */
    const tl_task *task;        /* how CSV rows are rendered; NULL: CSV inputs are an error */
} tl_prepare_opts;

typedef struct tl_prepare_src_stats {
    uint64_t bytes, docs[2], tokens[2]; /* [0] train, [1] val */
    int repeats;                        /* times the source ran out and started over */
} tl_prepare_src_stats;

typedef struct tl_prepare_stats {
    uint64_t bytes;
    uint64_t docs[2], tokens[2];
    int shards[2];
    tl_prepare_src_stats src[TL_PREPARE_MAX_SOURCES];
} tl_prepare_stats;

int tl_prepare(const tl_bpe *bpe, const tl_prepare_opts *o, const tl_prepare_source *sources, int n_sources,
               tl_prepare_stats *st, tl_err *e);

/* Reads <dir>/meta.json written by tl_prepare: vocabulary size, tokenizer name and the spec to
 * load it with (spec may be NULL). Returns 0, 1 when there is no meta.json, -1 when malformed. */
int tl_prepare_meta_read(const char *dir, int *vocab, char *tokenizer, size_t n, char *spec, size_t ns, tl_err *e);

#endif
