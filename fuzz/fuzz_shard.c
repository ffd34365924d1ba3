/* Fuzzes token shards (tl_shard_open: header, version, count, size, ids against the vocabulary)
 * and the batch loader over one (tl_loader_init/next/seek): accepted ids stay below the
 * vocabulary, and loader windows hold the shard's tokens. */
#include <string.h>

#include "common.h"
#include "data/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tl_fuzz_file("train_000000.bin", data, size);
    tl_shard s;
    tl_err e;
    if (!tl_shard_open(&s, path, 0, &e)) {
        uint64_t sum = 0;
        for (uint64_t i = 0; i < s.n_tokens; i++) sum += tl_shard_get(&s, i);
        tl_fuzz_touch(&sum, sizeof sum);
        tl_shard_close(&s);
    }
    const int vocab = 50257;
    if (tl_shard_open(&s, path, vocab, &e)) return tl_fuzz_reject(&e);
    for (uint64_t i = 0; i < s.n_tokens; i++) TL_FUZZ_CHECK(tl_shard_get(&s, i) < (uint32_t)vocab, "token %llu", (unsigned long long)i);
    uint64_t n = s.n_tokens;
    tl_shard_close(&s);
    tl_loader l;
    if (tl_loader_init(&l, path, "train", 2, 3, vocab, &e)) {
        TL_FUZZ_CHECK(n < 7, "a shard of %llu tokens holds a 2 x 3 batch but the loader refused it: %s", (unsigned long long)n, e.msg);
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        tl_loader_next(&l);
        for (int i = 0; i < 6; i++)
            TL_FUZZ_CHECK(l.inputs[i] >= 0 && l.inputs[i] < vocab && l.targets[i] >= 0 && l.targets[i] < vocab, "window %d", i);
    }
    /* positions as a checkpoint could hold them, taken from the input's last bytes */
    tl_loader_pos pos = {0, 0, 0};
    if (size >= 8) memcpy(&pos.offset, data + size - 8, 8);
    if (size >= 12) memcpy(&pos.shard, data + size - 12, 4);
    if (!tl_loader_seek(&l, pos, &e)) tl_loader_next(&l);
    tl_loader_free(&l);
    return 0;
}
