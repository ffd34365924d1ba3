/* Tokenizer encode throughput: `bench_tokenizer FILE [REPS]` loads the GPT-2 tokenizer, encodes
 * FILE REPS times (best of), and prints `tinyllm <MB/s> <tokens>`. bench_tokenizer.sh compares it
 * with js-tiktoken on the same file in the same run. */
#include <stdio.h>
#include <stdlib.h>

#include "base/file.h"
#include "base/log.h"
#include "tokenizer/bpe.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tokenizer FILE [REPS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    tl_err e;
    tl_bpe *t;
    tl_map m;
    if (tl_bpe_load_gpt2_default(&t, &e) || tl_map_open(&m, argv[1], &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double best = 1e30;
    size_t n = 0;
    for (int r = 0; r < reps; r++) {
        tl_ivec ids = {0};
        double t0 = tl_now();
        if (tl_bpe_encode(t, (const char *)m.data, m.size, &ids, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double dt = tl_now() - t0;
        if (dt < best) best = dt;
        n = ids.n;
        tl_ivec_free(&ids);
    }
    printf("tinyllm %.2f %zu\n", (double)m.size / best / 1e6, n);
    tl_map_close(&m);
    tl_bpe_free(t);
    return 0;
}
