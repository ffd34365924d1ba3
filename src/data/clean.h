/* Corpus cleaning: documents from JSONL files and text folders -> one JSONL corpus with normalised
 * white space, valid UTF-8, no tiny documents, no exact and no near duplicates.
 *
 * Inputs: a JSONL file (one document per line, {"text": ..., "source": ...}; other fields ignored)
 * or a folder of text files (one document per file, in name order). A document's source name is
 * the input's name when one is given, else the line's "source" field, else the file's name without
 * its extension; statistics are kept per source name.
 *
 * Normalisation (tl_clean_normalise): CR LF, CR, VT, FF, U+2028/9 become line breaks; tabs, NBSP and
 * the other Unicode spaces become spaces; control characters, U+FEFF and zero-width spaces are
 * removed; each line loses its leading and trailing spaces, runs of spaces become one; runs of
 * blank lines become one blank line; the document loses leading and trailing blank lines. Invalid
 * UTF-8 bytes become U+FFFD; a document with more than 1 % of its bytes invalid is dropped.
 *
 * Exact duplicates: a 64-bit hash of the normalised text. Near duplicates: MinHash over word
 * 5-grams (64 hashes) with LSH banding (16 bands of 4 rows); a document whose estimated Jaccard
 * similarity with an earlier kept one reaches `near_dup` is dropped. Only hashes and signatures are
 * kept, never texts: about 350 bytes per kept document. Deterministic: documents are taken in input
 * order and the first copy wins. The output is written atomically (tl_afile); on any error it is
 * not created. */
#ifndef TL_DATA_CLEAN_H
#define TL_DATA_CLEAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/vec.h"

enum { TL_CLEAN_HASHES = 64, TL_CLEAN_BANDS = 16, TL_CLEAN_SHINGLE = 5 };

typedef struct tl_clean_input {
    const char *path; /* a .jsonl file or a folder of text files */
    const char *name; /* source name for all its documents; NULL: from each line / the file name */
} tl_clean_input;

typedef struct tl_clean_opts {
    size_t min_chars; /* documents with fewer code points after normalisation are dropped */
    double near_dup;  /* estimated Jaccard threshold in (0, 1]; 0: near-duplicate removal off */
} tl_clean_opts;

typedef struct tl_clean_stats {
    char source[64];
    uint64_t docs_in, docs_out, bytes_in, bytes_out;
    uint64_t short_docs, bad_utf8, exact_dups, near_dups; /* dropped, by reason */
    uint64_t utf8_fixed; /* kept with a few invalid bytes replaced by U+FFFD */
} tl_clean_stats;

typedef struct tl_clean_report {
    tl_clean_stats *src; /* per source name, in order of first appearance */
    int n_src;
    tl_clean_stats total;
} tl_clean_report;

/* Cleans the inputs, in order, into `out` (JSONL {"text", "source"} per kept document). Bad input
 * (unreadable file, a line that is not a JSON object with a string "text", a non-string "source")
 * fails with "file:line: problem" and leaves no output. The report is filled in either way and must
 * be freed with tl_clean_report_free. */
int tl_clean_run(const tl_clean_input *in, int n_in, const tl_clean_opts *o, const char *out, tl_clean_report *rep,
                 tl_err *e);
void tl_clean_report_free(tl_clean_report *rep);

/* Normalises text[0..n) into out (replacing its contents) as described above. Returns the number
 * of invalid UTF-8 bytes that were replaced by U+FFFD, or -1 when memory runs out (e set). *chars
 * gets the number of code points written. */
long tl_clean_normalise(const char *text, size_t n, tl_buf *out, size_t *chars, tl_err *e);

/* The MinHash signature of normalised text: the minimum over its word 5-grams (words are runs of
 * non-spaces, ASCII-lowercased) of 64 seeded hashes; a text of fewer than 5 words is one shingle. */
void tl_clean_minhash(const char *text, size_t n, uint32_t sig[TL_CLEAN_HASHES]);

#endif
