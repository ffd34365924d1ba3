/* Batch loader: walks the shards of one split in order and hands out B x T input/target windows.
 *
 * Windows are contiguous: a batch takes B*T+1 tokens from the current position (inputs are the
 * first B*T, targets the same shifted by one) and advances by B*T. When a shard has fewer than
 * B*T+1 tokens left, the loader moves to the next shard, wrapping to the first (a new epoch).
 * The position (shard, offset, epoch) is plain data so checkpoints can save and restore it. */
#ifndef TL_DATA_LOADER_H
#define TL_DATA_LOADER_H

#include <stdint.h>

#include "base/err.h"
#include "data/shard.h"

typedef struct tl_loader_pos {
    int shard;
    uint64_t offset;
    uint64_t epoch;
} tl_loader_pos;

typedef struct tl_loader {
    int n_shards;
    tl_shard *shards;
    int B, T;
    tl_loader_pos pos;
    int32_t *inputs, *targets; /* [B*T] each, filled by tl_loader_next */
} tl_loader;

/* `pattern` is a directory (then `<dir>/<split>_*.bin`), a glob, or a single file. Every shard is
 * validated against the vocabulary and must hold at least one batch (B*T+1 tokens); the error
 * says which shard is too small and what to change. */
int tl_loader_init(tl_loader *l, const char *pattern, const char *split, int B, int T, int vocab, tl_err *e);
void tl_loader_free(tl_loader *l);
/* Fills l->inputs and l->targets with the next batch and advances. */
void tl_loader_next(tl_loader *l);
/* Validates and sets a position restored from a checkpoint. */
int tl_loader_seek(tl_loader *l, tl_loader_pos pos, tl_err *e);
uint64_t tl_loader_total_tokens(const tl_loader *l);

#endif
