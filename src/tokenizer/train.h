/* Byte-level BPE training: a vocabulary for your own data, with the pre-tokenizer splitting digit
 * runs (sensor text is mostly numbers) and GPT-2's behaviour otherwise.
 *
 * Input text is pre-tokenized into pieces, identical pieces counted, and the most frequent
 * adjacent pair of tokens merged, again and again, until the vocabulary has `vocab_size` tokens
 * (256 bytes + merges + <|endoftext|>, which is the last id). Ties go to the pair with the smaller
 * (left id, right id), so training is deterministic. Pair counts are updated incrementally, only
 * in the pieces that hold the merged pair (a max-heap with lazy deletion picks the next one).
 *
 * Output: a folder that tl_bpe_load reads —
 *   tokenizer.cfg   format = tinyllm.bpe, version = 1, name, pretokenizer = gpt2, digits,
 *                   vocab_size, eot
 *   encoder.json    {token: id}, tokens spelled in GPT-2's byte-to-unicode alphabet
 *   vocab.bpe       "#version: 0.2", then one merge per line ("left right", same alphabet), in rank order
 * — the same two files as GPT-2's (and HF's vocab.json / merges.txt), so GGUF and HF exports reuse them. */
#ifndef TL_TOKENIZER_TRAIN_H
#define TL_TOKENIZER_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct tl_bpe_train_opts {
    int vocab_size;   /* 257 .. 65536 */
    int digits;       /* digits per piece: 1 (each digit alone), k, or 0 (GPT-2's whole runs) */
    size_t max_bytes; /* read at most this much text (the sample); 0: all */
    const char *name; /* recorded in tokenizer.cfg, meta.json and checkpoints */
    const char *field; /* JSONL inputs: the text field */
} tl_bpe_train_opts;

typedef struct tl_bpe_train_stats {
    uint64_t bytes, pieces, unique_pieces;
    int merges;
    double seconds_count, seconds_merge;
} tl_bpe_train_stats;

/* Trains on the files (text; .jsonl: one object per line, text in o->field) and writes the
 * tokenizer folder `out_dir` (staged, then renamed into place: no partial output). */
int tl_bpe_train(const char *const *files, int n_files, const tl_bpe_train_opts *o, const char *out_dir,
                 tl_bpe_train_stats *st, tl_err *e);

#endif
