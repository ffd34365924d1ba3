/* Byte-level BPE tokenizer (GPT-2's): byte -> unicode mapping, GPT-2 pre-tokenization, rank-ordered
 * merges. Token ids are byte-identical to tiktoken's `gpt2` encoding.
 *
 * A tl_bpe is immutable once built: encode/decode may run concurrently from many threads.
 * It is built from its tokens and merges (bpe.c, libc only: the edge runtime builds one from a
 * GGUF file's tokenizer.ggml.* arrays); the loaders of files (bpe_files.c, jansson) read GPT-2's
 * encoder.json + vocab.bpe, and a trained tokenizer's folder (train.h): the same two files plus
 * tokenizer.cfg, whose pre-tokenizer splits digit runs. */
#ifndef TL_TOKENIZER_BPE_H
#define TL_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/vec.h"

typedef struct tl_bpe tl_bpe;

/* Building, in this order: begin (n_tokens ids; spelled_bytes bounds the tokens' spelled text),
 * add_token for every id, tokens_done, add_merge for every merge in rank order, merges_done.
 * Tokens are spelled in GPT-2's byte-to-unicode alphabet, as vocabulary files hold them (specials
 * like <|endoftext|> spell as themselves); a merge is "left right", both parts spelled. Each step
 * checks its input as hostile and names `where` (a file, file:line, or a GGUF key) in its error:
 * ids in range and used once, tokens non-empty, in the alphabet and distinct, all 256 bytes and
 * <|endoftext|> present, merge parts and results tokens, no result made twice, and (merges_done)
 * every multi-byte token but specials made by a merge. On any error the caller frees the tl_bpe. */
int tl_bpe_begin(tl_bpe **out, int n_tokens, size_t spelled_bytes, tl_err *e);
int tl_bpe_add_token(tl_bpe *t, long long id, const char *spelled, size_t n, const char *where, tl_err *e);
int tl_bpe_tokens_done(tl_bpe *t, const char *where, tl_err *e);
int tl_bpe_add_merge(tl_bpe *t, const char *spelled, size_t n, const char *where, tl_err *e);
int tl_bpe_merges_done(tl_bpe *t, const char *where, tl_err *e);
/* Names the tokenizer ("gpt2" by default) and sets its digit grouping (0: GPT-2's; 1..64). */
int tl_bpe_set_pretok(tl_bpe *t, const char *name, int digits, tl_err *e);

/* Loads GPT-2's encoder.json (token string -> id, in GPT-2's byte-to-unicode alphabet) and
 * vocab.bpe ("#version" line + one "a b" merge per line). Hostile input: every malformed entry is
 * an error naming the file and entry. The vocabulary must hold all 256 bytes and <|endoftext|>;
 * both parts of a merge and its result must be tokens; every other multi-byte token but specials
 * (<|...|>) must come from a merge (so a vocab.bpe cut at a line end is an error too). */
int tl_bpe_load_gpt2(tl_bpe **out, const char *encoder_json, const char *vocab_bpe, tl_err *e);
/* The same from the data directory ($TINYLLM_DATA or ~/.cache/tinyllm, subfolder gpt2/); the error
 * says to run scripts/install-deps when the files are missing. */
int tl_bpe_load_gpt2_default(tl_bpe **out, tl_err *e);
/* One entry point: spec NULL or "gpt2" is GPT-2 (the data directory's files); anything else is a
 * trained tokenizer's folder (tokenizer.cfg + encoder.json + vocab.bpe, see docs/formats.md). */
int tl_bpe_load(tl_bpe **out, const char *spec, tl_err *e);
void tl_bpe_free(tl_bpe *t);

/* "gpt2", or a trained tokenizer's name: recorded in meta.json and checkpoints, so data and models
 * of different tokenizers are never mixed. */
const char *tl_bpe_name(const tl_bpe *t);
/* Digits per piece of the pre-tokenizer (0: GPT-2's whole number runs). */
int tl_bpe_digits(const tl_bpe *t);
/* The merges in rank order: merge `rank` joins tokens left and right (exports write them). */
int tl_bpe_n_merges(const tl_bpe *t);
void tl_bpe_merge(const tl_bpe *t, int rank, int *left, int *right);
/* Appends bytes spelled in GPT-2's byte-to-unicode alphabet (as encoder.json / GGUF hold tokens). */
int tl_bpe_spell(tl_buf *out, const void *bytes, size_t n, tl_err *e);
/* Token `id` as vocabulary files (encoder.json, vocab.json, GGUF) hold it, NUL-terminated in out
 * (replacing its contents): special tokens (<|...|>) verbatim, the others spelled. Returns 1 for a
 * special token, 0 for a normal one, -1 when memory runs out. */
int tl_bpe_token_spelled(const tl_bpe *t, int id, tl_buf *out, tl_err *e);
/* Merge `rank` as merge files hold it ("left right", spelled), NUL-terminated in out. */
int tl_bpe_merge_spelled(const tl_bpe *t, int rank, tl_buf *out, tl_err *e);

/* 1 when a and b have the same tokens in the same ids and the same merges in the same order (and,
 * with check_digits, the same digit grouping); else 0 and `why` (n bytes) says where they first
 * differ. Vocabulary files without tokenizer.cfg carry no digit grouping: compare those without. */
int tl_bpe_same(const tl_bpe *a, const tl_bpe *b, int check_digits, char *why, size_t n);

/* Number of token ids (50257 for GPT-2, including <|endoftext|>). */
int tl_bpe_vocab_size(const tl_bpe *t);
/* The end-of-text id (50256 for GPT-2). */
int tl_bpe_eot(const tl_bpe *t);

/* Appends the ids of `len` arbitrary bytes (need not be valid UTF-8; special-token text like
 * "<|endoftext|>" is encoded as ordinary text). */
int tl_bpe_encode(const tl_bpe *t, const char *text, size_t len, tl_ivec *out, tl_err *e);
/* Appends the bytes of the given ids; an id out of range is an error. */
int tl_bpe_decode(const tl_bpe *t, const int32_t *ids, size_t n, tl_buf *out, tl_err *e);
/* The bytes of one id (not NUL-terminated); NULL for an id out of range. */
const char *tl_bpe_token(const tl_bpe *t, int id, size_t *len);

#endif
