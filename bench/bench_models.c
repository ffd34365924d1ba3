/* Writes the random-weight GPT-2 GGUF files the runtime benchmark runs: bench_models DIR SHAPE...
 * (shapes as pretrain's --model: 124M, 30M, 4x4x128, ...), each as f32, f16, q8_0 and q4_0, GPT-2's
 * vocabulary, context 1024, weights from GPT-2's initialisation (seeded). */
#include <stdio.h>

#include "base/file.h"
#include "formats/gguf_model.h"
#include "model/gpt2.h"
#include "quant/quant.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_models DIR SHAPE...\n");
        return 2;
    }
    tl_err e;
    tl_bpe *bpe;
    if (tl_bpe_load_gpt2_default(&bpe, &e) || tl_mkdir_p(argv[1], &e)) {
        fprintf(stderr, "bench_models: %s\n", e.msg);
        return 1;
    }
    static const uint32_t types[] = {TL_GGML_F32, TL_GGML_F16, TL_GGML_Q8_0, TL_GGML_Q4_0};
    for (int a = 2; a < argc; a++) {
        tl_gpt2_config c;
        tl_gpt2 m;
        if (tl_gpt2_config_make(&c, argv[a], 1024, tl_bpe_vocab_size(bpe), &e) || tl_gpt2_init(&m, &c, &e)) {
            fprintf(stderr, "bench_models: %s\n", e.msg);
            return 1;
        }
        tl_gpt2_init_weights(&m, 42);
        for (int t = 0; t < 4; t++) {
            char path[4200], name[64];
            snprintf(name, sizeof name, "gpt2-%s", argv[a]);
            snprintf(path, sizeof path, "%s/%s-%s.gguf", argv[1], name, tl_ggml_type_name(types[t]));
            if (tl_gguf_export_gpt2(&m, bpe, NULL, name, types[t], path, &e)) {
                fprintf(stderr, "bench_models: %s\n", e.msg);
                return 1;
            }
            printf("%s\n", path);
        }
        tl_gpt2_free(&m);
    }
    tl_bpe_free(bpe);
    return 0;
}
