/* Opening models for the inference commands (contract in load.h). */
#include "cli/load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf_model.h"
#include "tokenizer/unicode.h"
#include "train/eval.h"

int tl_cli_check_utf8(const char *s, size_t n, const char *what, tl_err *e) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = tl_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (cp < 0) return tl_errf(e, "%s: not valid UTF-8 at byte %zu (0x%02x): give text in UTF-8", what, i, (unsigned char)s[i]);
        i += (size_t)k;
    }
    return 0;
}

int tl_cli_is_gguf(const char *path) {
    FILE *f = fopen(path, "rb");
    char m[4] = {0};
    int ok = f && fread(m, 1, 4, f) == 4 && !memcmp(m, "GGUF", 4);
    if (f) fclose(f);
    return ok;
}

/* MemAvailable of /proc/meminfo in bytes, 0 when unknown */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break; // NOLINT(cert-err34-c): the kernel's /proc/meminfo
    if (f) fclose(f);
    return (size_t)kb * 1024;
}

static int check_memory(const char *path, const char *shown, int n_ctx, tl_err *e) {
    size_t w, c, avail = mem_available();
    if (tl_model_estimate(path, n_ctx, &w, &c, e)) return -1;
    fprintf(stderr, "memory: %s needs %.1f MB of weights + %.1f MB of KV cache and scratch", shown, (double)w / 1e6, (double)c / 1e6);
    if (avail) fprintf(stderr, " (%.1f MB available)", (double)avail / 1e6);
    fputc('\n', stderr);
    if (avail && w + c > avail)
        return tl_errf(e, "%s: %.0f MB needed but only %.0f MB available: use a smaller -c or a quantized file", shown,
                       (double)(w + c) / 1e6, (double)avail / 1e6);
    return 0;
}

int tl_cli_model_open(tl_model **out, const char *path, const char *adapter, const char *tokenizer, const char *task,
                      int n_ctx, tl_err *e) {
    *out = NULL;
    if (tl_cli_is_gguf(path)) {
        if (adapter) return tl_errf(e, "%s: --adapter applies to checkpoints; fold it in first (finetune --merge)", path);
        return check_memory(path, path, n_ctx, e) || tl_model_open(out, path, e) ? -1 : 0;
    }
    tl_bpe *bpe = NULL;
    tl_gpt2 m;
    tl_task spec = {0};
    int have_task = 0, rc = -1;
    char tmp[] = "/tmp/tinyllm-run-XXXXXX";
    int fd = -1;
    if (tl_bpe_load(&bpe, tokenizer, e) || tl_eval_load_model(&m, path, adapter, bpe, e)) goto done;
    if (task && tl_task_load(&spec, task, e)) goto free_model;
    have_task = task != NULL;
    if ((fd = mkstemp(tmp)) < 0) {
        tl_errf(e, "cannot create a temporary file in /tmp for %s", path);
        goto free_model;
    }
    close(fd);
    if (!tl_gguf_export_gpt2(&m, bpe, have_task ? &spec : NULL, "checkpoint", 0, tmp, e) && !check_memory(tmp, path, n_ctx, e) &&
        !tl_model_open(out, tmp, e))
        rc = 0;
    unlink(tmp);
free_model:
    tl_gpt2_free(&m);
done:
    if (have_task) tl_task_free(&spec);
    tl_bpe_free(bpe);
    return rc;
}
