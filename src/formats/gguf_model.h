/* Our training model (model/gpt2.h) as a GGUF file that upstream llama.cpp's `gpt2` architecture
 * loads, and back: the export writes the schema of gguf_gpt2.h with the tokenizer and the task
 * inside, the import decodes a file's tensors into an fp32 model. */
#ifndef TL_FORMATS_GGUF_MODEL_H
#define TL_FORMATS_GGUF_MODEL_H

#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

/* type: the matrices' encoding (TL_GGML_F32, F16, Q8_0 or Q4_0; norms and biases stay F32). task may be NULL. */
int tl_gguf_export_gpt2(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *task, const char *name, uint32_t type,
                        const char *path, tl_err *e);
/* Reads a gpt2-architecture GGUF (F32/F16/Q8_0/Q4_0 tensors, dequantized) into m (not initialised yet); the vocabulary
 * is padded again to a multiple of 128 with zero rows. */
int tl_gguf_import_gpt2(const char *path, tl_gpt2 *m, tl_err *e);

#endif
