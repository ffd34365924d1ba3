/* llm.c's model and tokenizer files (train_gpt2.c / train_gpt2.cu), read and written, so llm.c
 * users bring their checkpoints here and take ours back. Token shards need nothing: data/shard.h
 * already is llm.c's layout.
 *
 * Model file (little-endian):
 *   +------------------------------------------------------------+-----------------------------+
 *   | 256 x int32 header                                         | parameters, fp32 (v3) or    |
 *   | [0] 20240326  [1] version 3 (fp32) or 5 (bf16)             | bf16 (v5), in this order:   |
 *   | [2] max_seq_len  [3] vocab_size  [4] num_layers            |  wte [Vp, C]  wpe [T, C]    |
 *   | [5] num_heads  [6] channels  [7] padded_vocab_size         |  then each of ln1w ln1b qkvw|
 *   | [8..255] 0                                                 |  qkvb attprojw attprojb ln2w|
 *   |                                                            |  ln2b fcw fcb fcprojw fcprojb|
 *   |                                                            |  for all L layers together  |
 *   |                                                            |  ([L, ...]), lnfw lnfb [C]  |
 *   +------------------------------------------------------------+-----------------------------+
 *   Matrices are [out, in] as ours; the file size must be exactly 1024 + params x width.
 *
 * Tokenizer file:
 *   +------------------------------------------------+-----------------------------------------+
 *   | 256 x uint32 header                            | per token id: u8 length (>= 1), then    |
 *   | [0] 20240328  [1] version 1 or 2               | that many raw bytes                     |
 *   | [2] vocab_size  [3] eot id (version 2)         |                                         |
 *   +------------------------------------------------+-----------------------------------------+
 *   It holds token bytes only (no merges): we write it for llm.c's decoding, and read one to
 *   check that it is the tokenizer a model is used with. */
#ifndef TL_FORMATS_LLMC_H
#define TL_FORMATS_LLMC_H

#include "base/err.h"
#include "model/gpt2.h"
#include "tokenizer/bpe.h"

#define TL_LLMC_MODEL_MAGIC 20240326
#define TL_LLMC_TOKENIZER_MAGIC 20240328

/* Writes m as a version-3 (fp32) model file, atomically. */
int tl_llmc_write_model(const tl_gpt2 *m, const char *path, tl_err *e);
/* Reads a version-3 or version-5 model file into m (not initialised yet); the vocabulary is padded
 * to tinyllm's multiple of 128, whatever padding the file used. */
int tl_llmc_read_model(const char *path, tl_gpt2 *m, tl_err *e);
/* Writes bpe's tokens as a version-2 tokenizer file, atomically. */
int tl_llmc_write_tokenizer(const tl_bpe *bpe, const char *path, tl_err *e);
/* Reads a tokenizer file and checks that its tokens are bpe's, id by id (and its eot, for v2). */
int tl_llmc_check_tokenizer(const char *path, const tl_bpe *bpe, tl_err *e);

#endif
