/* Fuzzes checkpoint loading (tl_ckpt_load, tl_ckpt_load_adapter: format metadata, numbers, config,
 * tensor table, optimizer moments, LoRA settings and base hash) and the `latest` manifest
 * (tl_ckpt_latest). Input: a checkpoint file, optionally followed by TL_FUZZ_SEP and a manifest;
 * with a manifest both go into a run folder (the file as step_00000001.safetensors) and the folder
 * is loaded, as `--resume` and `run -m DIR` do. Adapters are checked against the fixture base. */
#include <string.h>

#include "common.h"
#include "model/lora.h"
#include "train/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_fuzz_part part[2];
    int n = tl_fuzz_split(data, size, part, 2);
    char run[512], latest[4200];
    const char *path = run;
    tl_err e;
    if (n == 2) {
        snprintf(run, sizeof run, "%s/run", tl_fuzz_dir());
        const char *file = tl_fuzz_file("run/step_00000001.safetensors", part[0].p, part[0].n);
        tl_fuzz_file("run/latest", part[1].p, part[1].n);
        int r = tl_ckpt_latest(run, latest, sizeof latest, &e);
        TL_FUZZ_CHECK(r != 0 || !strcmp(latest, file), "the manifest names %s, the only checkpoint is %s", latest, file);
    } else {
        path = tl_fuzz_file("in.safetensors", part[0].p, part[0].n);
    }
    tl_gpt2 m;
    tl_adamw opt = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    tl_train_state st;
    if (!tl_ckpt_load(path, &m, &opt, &st, &e)) {
        TL_FUZZ_CHECK(opt.n == m.n_params, "moments for %zu of %zu parameters", opt.n, m.n_params);
        tl_adamw_free(&opt);
        tl_gpt2_free(&m);
    } else {
        tl_fuzz_reject(&e);
    }
    if (!tl_ckpt_load(path, &m, NULL, NULL, &e)) tl_gpt2_free(&m);
    else tl_fuzz_reject(&e);
    tl_lora lo;
    tl_adamw lopt = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    if (!tl_ckpt_load_adapter(path, tl_fuzz_base_model(), &lo, &lopt, &st, &e)) {
        TL_FUZZ_CHECK(lopt.n == lo.n_params, "moments for %zu of %zu adapter parameters", lopt.n, lo.n_params);
        tl_adamw_free(&lopt);
        tl_lora_free(&lo);
    } else {
        tl_fuzz_reject(&e);
    }
    return 0;
}
