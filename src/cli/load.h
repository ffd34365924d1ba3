/* Models for the inference commands (run, classify, bench, eval): a GGUF file goes to the runtime
 * as it is; a training checkpoint (file or run directory, with an optional LoRA adapter folded in)
 * is exported to a temporary f32 GGUF file first, which is unlinked once mapped. */
#ifndef TL_CLI_LOAD_H
#define TL_CLI_LOAD_H

#include "base/err.h"
#include "tinyllm/tinyllm.h"

/* tokenizer: the checkpoint's ("gpt2" or a trained tokenizer's folder; unused for GGUF). task: a
 * spec whose name, instruction and labels go into the temporary file (may be NULL). Prints the
 * memory the model and an n_ctx context will take, and fails before loading when the machine's
 * available memory is less. */
int tl_cli_model_open(tl_model **out, const char *path, const char *adapter, const char *tokenizer, const char *task,
                      int n_ctx, tl_err *e);
/* Prompts are text: an error naming `what` and the byte offset of the first invalid UTF-8 sequence
 * (the tokenizer would take any bytes, but such a prompt is almost always a wrong file or encoding). */
int tl_cli_check_utf8(const char *s, size_t n, const char *what, tl_err *e);
/* 1 when the file starts with GGUF's magic. */
int tl_cli_is_gguf(const char *path);

#endif
