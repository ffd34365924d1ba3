/* Corpus cleaning: documents from several sources -> one JSONL corpus with normalised white space,
 * valid UTF-8, no tiny documents, no exact duplicates and no near-duplicates.
 *
 * A source is a folder of text files (each file one document, in name order) or a JSONL file (one
 * document per line, its "text" field). Normalisation: CR and control characters removed, tabs as
 * spaces, runs of spaces as one, no trailing spaces, at most one blank line in a row, no leading or
 * trailing blank lines. Near-duplicates: MinHash over word 5-grams (64 hashes) with LSH (16 bands
 * of 4); a document whose estimated Jaccard similarity with a kept one reaches `near_dup` is
 * dropped. Only hashes and signatures are kept, never texts: memory is ~300 bytes per document.
 * Deterministic: documents are processed in source order. The output is written atomically. */
#ifndef TL_DATA_CLEAN_H
#define TL_DATA_CLEAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct tl_clean_source {
    const char *name, *path;
} tl_clean_source;

typedef struct tl_clean_opts {
    size_t min_chars; /* documents shorter than this after normalisation are dropped */
    double near_dup;  /* Jaccard threshold in (0, 1]; 0: near-duplicate removal off */
} tl_clean_opts;

typedef struct tl_clean_stats {
    uint64_t docs_in, docs_out, bytes_in, bytes_out;
    uint64_t short_docs, bad_utf8, exact_dups, near_dups;
} tl_clean_stats;

/* st[n_sources + 1]: one per source, then the total. */
int tl_clean(const tl_clean_source *src, int n_sources, const tl_clean_opts *o, const char *out, tl_clean_stats *st,
             tl_err *e);

#endif
