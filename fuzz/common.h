/* Shared by the fuzz harnesses: the input as files in a scratch folder on tmpfs, inputs that hold
 * several files, fixtures (a tiny tokenizer, a tiny base model) and the check that aborts.
 *
 * Every harness defines LLVMFuzzerTestOneInput and is linked either with libFuzzer (TL_FUZZ, clang)
 * or with replay.c's main(), which feeds it the corpus and crash reproducers. Harnesses initialise
 * themselves lazily on the first input, so both drivers need nothing else. */
#ifndef TL_FUZZ_COMMON_H
#define TL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/gpt2.h"
#include "tokenizer/bpe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Separates the files of a multi-file input (spec + CSV, config.json + model.safetensors, ...). */
#define TL_FUZZ_SEP "\n=#=#=\n"
#define TL_FUZZ_MAX_PARTS 8

typedef struct tl_fuzz_part {
    const uint8_t *p;
    size_t n;
} tl_fuzz_part;

/* Cuts data at every TL_FUZZ_SEP into at most `max` parts (the last one keeps any further
 * separators); returns the number of parts (>= 1). */
int tl_fuzz_split(const uint8_t *data, size_t size, tl_fuzz_part *parts, int max);

/* This process's scratch folder (/dev/shm/tl-fuzz-<pid>, or under $TMPDIR without /dev/shm),
 * created on first use and removed with its contents at exit. */
const char *tl_fuzz_dir(void);
/* Writes n bytes to <scratch>/<name> (replacing it; `name` may contain one level of folder, which
 * is created) and returns the path, valid until the next call with the same name. */
const char *tl_fuzz_file(const char *name, const void *data, size_t n);
/* Removes <scratch>/<name> if present (a part missing from this input). */
void tl_fuzz_unlink(const char *name);
/* <scratch>/<name> (no file is written), valid until the next call. */
const char *tl_fuzz_path(const char *name);

/* The committed tiny trained tokenizer (fuzz/data/tok: 300 tokens, digits in threes); loaded once. */
const tl_bpe *tl_fuzz_tiny_bpe(void);
/* GPT-2's tokenizer from the data directory; exits 77 (skip) with a message when it is missing. */
const tl_bpe *tl_fuzz_gpt2_bpe(void);
/* A fixed tiny GPT-2 (1 layer, 1 head, width 4, context 4, vocabulary 1) with seeded weights: the
 * base that fuzzed LoRA adapters are checked against (gen_seeds.c writes adapters for it). */
void tl_fuzz_base_config(tl_gpt2_config *c);
const tl_gpt2 *tl_fuzz_base_model(void);

/* A broken property: prints where and what, then aborts (libFuzzer saves the input). */
#define TL_FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: fuzz check failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fputc('\n', stderr);                                                                     \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

/* An input the parser refused: prints e's message when TL_FUZZ_VERBOSE is set (to see why a seed
 * is rejected; replay -v sets it) and returns 0, so `return tl_fuzz_reject(&e);`. */
int tl_fuzz_reject(const tl_err *e);

/* Reads every byte of p[0..n) into a sum the compiler cannot drop (ASan sees any bad access). */
void tl_fuzz_touch(const void *p, size_t n);
extern volatile unsigned tl_fuzz_sink;

#endif
