/* Fuzzes the llm.c tokenizer file check (tl_llmc_check_tokenizer: header, per-token lengths and
 * bytes) against the fixture tokenizer: an accepted file must be exactly what
 * tl_llmc_write_tokenizer writes for it, apart from the version-1 header. */
#include <string.h>

#include "base/file.h"
#include "common.h"
#include "formats/llmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const tl_bpe *bpe = tl_fuzz_tiny_bpe();
    static tl_map ref;
    tl_err e;
    if (!ref.data) {
        const char *rp = tl_fuzz_path("ref_tokenizer.bin");
        if (tl_llmc_write_tokenizer(bpe, rp, &e) || tl_map_open(&ref, rp, &e)) {
            fprintf(stderr, "fuzz: %s\n", e.msg);
            abort();
        }
    }
    const char *path = tl_fuzz_file("in.bin", data, size);
    if (tl_llmc_check_tokenizer(path, bpe, &e)) return tl_fuzz_reject(&e);
    /* header words: magic, version (1 or 2), vocabulary size, end-of-text id (version 2 only) */
    TL_FUZZ_CHECK(size == ref.size && !memcmp(data, ref.data, 4) && !memcmp(data + 8, ref.data + 8, 4) &&
                      (data[4] == 1 || !memcmp(data + 12, ref.data + 12, 4)) &&
                      !memcmp(data + 1024, ref.data + 1024, size - 1024),
                  "an accepted file differs from the tokenizer's own (%zu vs %zu bytes)", size, ref.size);
    return 0;
}
