/* Where tinyllm keeps fetched data (GPT-2 tokenizer files, reference tools): $TINYLLM_DATA, else
 * $HOME/.cache/tinyllm. scripts/install-deps fills it; nothing there is ever committed. */
#ifndef TL_BASE_PATHS_H
#define TL_BASE_PATHS_H

#include <stddef.h>

/* Writes "<data dir>/<rel>" into buf; returns 0, or -1 if it does not fit. */
int tl_data_path(char *buf, size_t n, const char *rel);

#endif
