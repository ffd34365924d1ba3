/* Training checkpoints: safetensors files holding the parameters (one tensor per name of the
 * model's table), the AdamW moments ("optim.m", "optim.v", flat [n_params]) and, in
 * __metadata__, the model config, step, data position, RNG state and the settings that resume
 * must keep (string values):
 *
 *   format = "tinyllm.checkpoint"   format_version = "1"      tokenizer = "gpt2"
 *   n_layer n_head n_embd n_ctx vocab padded_vocab           (model config)
 *   step adam_t data_shard data_offset data_epoch rng_state  (progress; uint64 in decimal)
 *   seed batch_size seq_len total_batch steps skipped        (run settings)
 *
 * A checkpoint directory holds step_XXXXXXXX.safetensors files and a manifest `latest` naming the
 * newest complete one. Save order: checkpoint (temp + fsync + rename), then the manifest (same),
 * then older checkpoints beyond `keep` are deleted. A crash at any point leaves `latest` naming a
 * complete file. */
#ifndef TL_TRAIN_CHECKPOINT_H
#define TL_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "base/err.h"
#include "data/loader.h"
#include "model/gpt2.h"
#include "train/adamw.h"

typedef struct tl_train_state {
    uint64_t step;       /* optimizer steps completed */
    tl_loader_pos data;  /* train loader position after `step` steps */
    uint64_t rng_state;
    uint64_t seed;
    int batch_size, seq_len;
    long long total_batch;
    int steps;           /* the run's planned total (the LR schedule depends on it) */
    uint64_t skipped;    /* steps skipped for non-finite loss or gradients */
    char tokenizer[32];
} tl_train_state;

/* Writes <dir>/step_<step>.safetensors, updates <dir>/latest, prunes to the newest `keep`. */
int tl_ckpt_save(const char *dir, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, int keep, tl_err *e);

/* Path of the newest complete checkpoint in dir (from its manifest). Returns 0 when found, 1 when
 * the directory has no manifest, -1 on a bad manifest. */
int tl_ckpt_latest(const char *dir, char *path, size_t n, tl_err *e);

/* Loads a checkpoint file, or the newest one if `path` is a directory. Initialises m (which must
 * not be initialised yet) from the stored config and parameters. With opt non-NULL also
 * initialises and fills the AdamW moments; with st non-NULL fills the training state. */
int tl_ckpt_load(const char *path, tl_gpt2 *m, tl_adamw *opt, tl_train_state *st, tl_err *e);

#endif
