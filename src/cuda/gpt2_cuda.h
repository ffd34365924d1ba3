/* GPT-2 training on NVIDIA GPUs: the CPU model's forward/backward/update in bf16 with fp32 master
 * weights, on one GPU or data-parallel over several (NCCL, optimizer state sharded: ZeRO-1).
 *
 * The GPU model mirrors a host tl_gpt2 (same config, same tensor table, same flat layout): it is
 * created from the host parameters and AdamW moments (a new model or a loaded checkpoint) and
 * writes them back with tl_cuda_gpt2_download, so checkpoints are the CPU trainer's, resumable on
 * either device. Numerics: bf16 weights and activations into fp32-accumulating tensor-core
 * products; residual stream, LayerNorm statistics, softmax, loss, gradients and AdamW in fp32.
 *
 * Host code, C11; the kernels are in the .cu files of src/cuda (kernels.h). Calls are asynchronous unless they
 * return a host value (the loss, the gradient norm) or copy to the host. */
#ifndef TL_CUDA_GPT2_CUDA_H
#define TL_CUDA_GPT2_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "model/gpt2.h"
#include "train/adamw.h"

typedef struct tl_cuda_gpt2 tl_cuda_gpt2;

typedef struct tl_cuda_opts {
    int recompute;   /* 1: recompute GELU outputs in the backward instead of keeping them (saves L x B x T x 4C bf16) */
    int fuse_gelu;   /* bit 0: GELU in the forward GEMM epilogue; bit 1: GELU' in the backward one (default 3) */
    int rank, world; /* data-parallel position; world 1 for one GPU */
    const char *nccl_id_file; /* world > 1 (or force_nccl): where rank 0 writes the NCCL unique id */
    int force_nccl;  /* use the NCCL path even with world 1 (tests the sharded update on one GPU) */
    int plain_attention; /* 1: the plain attention kernels even for head size 64 (a fallback) */
    int profile;     /* 1: time every op of the training steps (tl_cuda_gpt2_profile_print) */
} tl_cuda_opts;

/* 1 if a CUDA device is usable; else 0 with the reason in msg (no device, no driver...). */
int tl_cuda_available(char *msg, size_t n);
/* 1 when attention with head size hs runs the flash kernels (64), 0 for the plain ones. */
int tl_cuda_attention_is_flash(int hs);
/* Name and peak dense bf16 tensor throughput (FLOP/s, 0 when unknown) of the current device. */
void tl_cuda_device_info(char *name, size_t n, double *peak_bf16);

/* Creates the GPU model for micro-batches up to B x T from the host model m and, when given, the
 * AdamW state opt (moments and step; NULL starts them at zero). The host model stays the caller's.
 * LoRA: when m->lora is set, the GPU model trains those adapters (same targets, rank, alpha /
 * rank scaling and dropout mask as model/lora.c) with the base frozen: opt is then the adapters'
 * AdamW state, the base gets no gradients (its weight-gradient products are skipped), and
 * train_micro/reduce/update/download/grads below act on the adapters (one GPU only). */
int tl_cuda_gpt2_create(tl_cuda_gpt2 **g, const tl_gpt2 *m, const tl_adamw *opt, int B, int T, const tl_cuda_opts *o,
                        tl_err *e);
void tl_cuda_gpt2_free(tl_cuda_gpt2 *g);
/* Device memory it holds, in bytes. */
size_t tl_cuda_gpt2_memory(const tl_cuda_gpt2 *g);

/* Forward over inputs[B, T] with targets[B, T] (ids, -1 ignored) without gradients: returns the
 * mean loss over counted positions in *loss (waits for the device). Logits stay readable. */
int tl_cuda_gpt2_eval(tl_cuda_gpt2 *g, const int32_t *inputs, const int32_t *targets, int B, int T, float *loss, tl_err *e);
/* Logits of the last eval as floats, [B, T, padded_vocab] (waits). */
int tl_cuda_gpt2_logits(tl_cuda_gpt2 *g, float *out, tl_err *e);

/* Training micro-batch: forward + backward, accumulating scale * d(mean loss)/d(params) into the
 * gradients and the micro-batch's mean loss into the step's loss sum. Asynchronous. */
void tl_cuda_gpt2_zero_grad(tl_cuda_gpt2 *g);
int tl_cuda_gpt2_train_micro(tl_cuda_gpt2 *g, const int32_t *inputs, const int32_t *targets, int B, int T, float scale,
                             tl_err *e);
/* After the step's micro-batches: sums gradients across ranks, returns the step's loss sum over
 * all ranks' micro-batches and the global gradient L2 norm (waits). */
int tl_cuda_gpt2_reduce(tl_cuda_gpt2 *g, double *loss_sum, double *grad_norm, tl_err *e);
/* AdamW with learning rate lr on gradients times gscale (the clip factor); opt supplies the
 * hyper-parameters and counts the step (opt->t++), its moment arrays are not touched. */
int tl_cuda_gpt2_update(tl_cuda_gpt2 *g, tl_adamw *opt, float lr, float gscale, tl_err *e);

/* Copies the fp32 master parameters into m->params and, with opt, the moments into opt->m/v
 * (collective across ranks; waits). LoRA: the adapters into m->lora->params (m->params is left
 * alone: the base did not change) and their moments into opt->m/v. */
int tl_cuda_gpt2_download(tl_cuda_gpt2 *g, tl_gpt2 *m, tl_adamw *opt, tl_err *e);
/* The accumulated fp32 gradients (local, before tl_cuda_gpt2_reduce), [n_params] (waits); LoRA:
 * the adapters' gradients, [lora n_params] in the host tl_lora's layout. */
int tl_cuda_gpt2_grads(tl_cuda_gpt2 *g, float *out, tl_err *e);
/* With opts.profile: a table of each op's GPU time per training step (the first step left out)
 * to f; nothing otherwise. */
void tl_cuda_gpt2_profile_print(const tl_cuda_gpt2 *g, FILE *f);
/* LoRA: the dropout seed of the next training micro-batches (the CPU's tl_lora.drop_seed). */
void tl_cuda_gpt2_lora_seed(tl_cuda_gpt2 *g, uint64_t seed);

/* ---- several GPUs: one process per GPU, started by tl_cuda_launch */

/* Runs argv (this program) once per rank with TL_RANK, TL_WORLD, TL_NCCL_ID in the environment
 * (and NCCL_NVLS_ENABLE=0 unless set), ranks > 0 logging to files; waits for all, stops the others
 * when one fails. Returns the exit status for the CLI (0 when every rank succeeded). */
int tl_cuda_launch(int n_gpus, char **argv, tl_err *e);
/* Reads TL_RANK / TL_WORLD / TL_NCCL_ID: 1 and fills rank, world, id_file when this process is a
 * rank started by tl_cuda_launch, 0 otherwise. */
int tl_cuda_rank_env(int *rank, int *world, const char **id_file);

#endif
