/* Training checkpoints: safetensors files holding the trainable parameters (one tensor per name of
 * the model's table, or of the LoRA adapter's), the AdamW moments ("optim.m", "optim.v", flat, left
 * out of model-only files) and, in __metadata__, the model config, step, data position, RNG state
 * and the settings that resume must keep (string values):
 *
 *   format = "tinyllm.checkpoint"   format_version = "1"      tokenizer = "gpt2"
 *   kind = "model" | "lora"                                   (what the tensors are)
 *   n_layer n_head n_embd n_ctx vocab padded_vocab           (model config)
 *   step adam_t data_shard data_offset data_epoch rng_state  (progress; uint64 in decimal)
 *   seed batch_size seq_len total_batch steps skipped        (run settings)
 *   best_step stale best_val                                 (fine-tuning: best val loss so far; optional)
 *   lora_rank lora_alpha lora_dropout lora_targets base_hash (kind lora: the adapter and the 16-hex-digit
 *                                                             hash of the base weights it was trained on)
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
    uint64_t best_step, stale; /* fine-tuning: step of the best val loss, evals since it improved */
    double best_val;     /* best val loss so far (INFINITY: none yet) */
    char tokenizer[32];
} tl_train_state;

/* Hash of a model's config and weights (the identity an adapter records for its base). */
uint64_t tl_ckpt_model_hash(const tl_gpt2 *m);

/* Writes <dir>/step_<step>.safetensors, updates <dir>/latest, prunes to the newest `keep`. With
 * m->lora set the file holds the adapter (and its moments), not the base. */
int tl_ckpt_save(const char *dir, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, int keep, tl_err *e);
/* Writes one checkpoint file atomically; opt NULL leaves the optimizer out (a model-only file). */
int tl_ckpt_write(const char *path, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, tl_err *e);

/* Path of the newest complete checkpoint in dir (from its manifest). Returns 0 when found, 1 when
 * the directory has no manifest, -1 on a bad manifest. */
int tl_ckpt_latest(const char *dir, char *path, size_t n, tl_err *e);

/* Loads a checkpoint file, or the newest one if `path` is a directory. Initialises m (which must
 * not be initialised yet) from the stored config and parameters. With opt non-NULL also
 * initialises and fills the AdamW moments; with st non-NULL fills the training state. */
int tl_ckpt_load(const char *path, tl_gpt2 *m, tl_adamw *opt, tl_train_state *st, tl_err *e);
/* Loads a LoRA adapter file (or a directory's newest) for the base m (loaded): checks that it was
 * trained on exactly these weights (base_hash), initialises lo (not initialised yet) and, if
 * given, opt and st. The caller sets m->lora = lo to use it. */
int tl_ckpt_load_adapter(const char *path, const tl_gpt2 *m, struct tl_lora *lo, tl_adamw *opt, tl_train_state *st,
                         tl_err *e);

#endif
