/* `tinyllm quantize`: a GGUF file with its matrices re-encoded (q8_0, q4_0, f16, f32); every
 * key/value is carried over, general.file_type updated. llama.cpp runs the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "formats/gguf.h"

int tl_cmd_quantize(int argc, char **argv) {
    const char *type_name = "q8_0";
    tl_opt opts[] = {{"type", 0, TL_OPT_STR, &type_name, "q8_0, q4_0, f16 or f32: how 2-D tensors are stored (1-D stay f32)"}};
    tl_cmd cmd = {"quantize", "tinyllm quantize IN.gguf OUT.gguf [--type q8_0|q4_0|f16|f32]",
                  "Re-encodes the 2-D tensors (embeddings and matrices) of a GGUF file in llama.cpp's block\n"
                  "formats: q8_0 (32 weights + f16 scale in 34 bytes) or q4_0 (18 bytes). Quantized inputs\n"
                  "are decoded first. Keys (tokenizer, task) are copied; general.file_type is set.\n\n"
                  "example: tinyllm quantize gesture.gguf gesture-q8_0.gguf --type q8_0",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[2];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 2, &npos);
    if (r >= 0) return r;
    tl_err e;
    int type = tl_ggml_type_parse(type_name);
    if (npos != 2) return tl_errf(&e, "quantize: give IN.gguf and OUT.gguf"), tl_cli_fail(&e);
    if (type < 0) return tl_errf(&e, "quantize: --type must be q8_0, q4_0, f16 or f32, not '%s'", type_name), tl_cli_fail(&e);
    tl_gguf g;
    if (tl_gguf_open(&g, pos[0], &e)) return tl_cli_fail(&e);
    tl_gguf_writer *w = NULL;
    float **bufs = calloc(g.n_tensors + 1, sizeof *bufs);
    uint64_t in_bytes = 0, out_bytes = 0;
    int rc = bufs ? tl_gguf_writer_init(&w, &e) : tl_errf(&e, "out of memory");
    for (uint64_t i = 0; i < g.n_kv && !rc; i++) {
        const tl_gguf_kv *kv = &g.kv[i];
        if (kv->key.n == 17 && !memcmp(kv->key.p, "general.file_type", 17)) continue;
        rc = tl_gguf_put_kv(w, kv, &e);
    }
    rc = rc || tl_gguf_put_u32(w, "general.file_type", tl_ggml_file_type((uint32_t)type), &e);
    for (uint64_t i = 0; i < g.n_tensors && !rc; i++) {
        const tl_gguf_tensor *t = &g.tensors[i];
        uint64_t count = 1, rows;
        for (uint32_t d = 0; d < t->n_dims; d++) count *= t->ne[d];
        rows = count / t->ne[0];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->name.n, t->name.p);
        if (!(bufs[i] = malloc(count * sizeof(float)))) {
            rc = tl_errf(&e, "%s: out of memory for tensor '%s'", pos[0], name);
            break;
        }
        for (uint64_t j = 0; j < rows; j++)
            tl_dequant_row(t->type, (const unsigned char *)t->data + j * tl_ggml_row_bytes(t->type, t->ne[0]), t->ne[0],
                           bufs[i] + j * t->ne[0]);
        uint32_t to = t->n_dims >= 2 ? (uint32_t)type : TL_GGML_F32;
        if (!tl_ggml_row_bytes(to, t->ne[0])) {
            rc = tl_errf(&e, "%s: tensor '%s' has rows of %llu, not a multiple of 32: it cannot be %s", pos[0], name,
                         (unsigned long long)t->ne[0], type_name);
            break;
        }
        in_bytes += t->nbytes;
        out_bytes += tl_ggml_row_bytes(to, t->ne[0]) * rows;
        rc = tl_gguf_add_tensor(w, name, bufs[i], (int)t->n_dims, t->ne, to, &e);
    }
    rc = rc || tl_gguf_write(w, pos[1], &e);
    if (!rc)
        printf("quantized %s -> %s (%s): tensor data %.2f MB -> %.2f MB\n", pos[0], pos[1], type_name, in_bytes / 1e6,
               out_bytes / 1e6);
    for (uint64_t i = 0; bufs && i < g.n_tensors; i++) free(bufs[i]);
    free(bufs);
    tl_gguf_writer_free(w);
    tl_gguf_close(&g);
    return rc ? tl_cli_fail(&e) : 0;
}
