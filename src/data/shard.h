/* Token shards in llm.c's layout, so tinyllm and llm.c read each other's data.
 *
 *   offset 0      256 x int32 LE header                           offset 1024
 *   +-------------+-------------+-----------+---------------------+------------------------+
 *   | [0] magic   | [1] version | [2] count | [3..255] zero       | count tokens           |
 *   | 20240520    | 1 or 2      | tokens    |                     | v1: uint16, v2: uint32 |
 *   +-------------+-------------+-----------+---------------------+------------------------+
 *   version 1 holds vocabularies up to 65,536 ids (GPT-2's 50,257); version 2 is for larger ones.
 *   The file size must be exactly 1024 + count * width. Documents are separated by end-of-text.
 */
#ifndef TL_DATA_SHARD_H
#define TL_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"

#define TL_SHARD_MAGIC 20240520
#define TL_SHARD_HEADER_BYTES 1024

typedef struct tl_shard {
    tl_map map;
    int version;        /* 1: uint16 tokens, 2: uint32 tokens */
    uint64_t n_tokens;
    const unsigned char *tokens;
} tl_shard;

/* Maps and validates a shard; with vocab > 0 also checks every token id is below it. */
int tl_shard_open(tl_shard *s, const char *path, int vocab, tl_err *e);
void tl_shard_close(tl_shard *s);
static inline uint32_t tl_shard_get(const tl_shard *s, uint64_t i) {
    const unsigned char *p = s->tokens + (s->version == 1 ? 2 : 4) * i;
    return s->version == 1 ? (uint32_t)(p[0] | p[1] << 8)
                           : (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Streams tokens into a new shard (atomically: the file appears only on commit). */
typedef struct tl_shard_writer {
    tl_afile af;
    int version;
    uint64_t n_tokens;
} tl_shard_writer;

/* The version is chosen from the vocabulary size (<= 65536 ids: 1, else 2). */
int tl_shard_writer_open(tl_shard_writer *w, const char *path, int vocab, tl_err *e);
int tl_shard_writer_push(tl_shard_writer *w, const int32_t *ids, size_t n, tl_err *e);
int tl_shard_writer_commit(tl_shard_writer *w, tl_err *e);
void tl_shard_writer_abort(tl_shard_writer *w);

#endif
