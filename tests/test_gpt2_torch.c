/* tinyllm's GPT-2 against an independent PyTorch implementation (tests/gpt2_torch_ref.py):
 * logits, loss and every parameter gradient within 1e-4 (norm-relative per tensor), and the losses
 * of 10 steps of tinyllm's AdamW within 1e-5 of torch.optim.AdamW's. Reads the file the python
 * script wrote, through tinyllm's safetensors reader. Runs the script itself (/usr/bin/python3,
 * Debian's torch); skips with a message when torch is missing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/safetensors.h"
#include "model/gpt2.h"
#include "train/adamw.h"

static int meta_int(const tl_st_file *f, const char *k) {
    const char *v = tl_st_meta(f, k);
    return v ? atoi(v) : -1;
}

static const tl_st_tensor *need(const tl_st_file *f, const char *name, tl_st_dtype dt, size_t nbytes) {
    const tl_st_tensor *t = tl_st_find(f, name);
    if (!t || t->dtype != dt || t->nbytes != nbytes) {
        fprintf(stderr, "reference file: tensor '%s' missing or of the wrong type/size\n", name);
        exit(1);
    }
    return t;
}

/* ||a - b|| / ||b|| over n floats (b is the reference). */
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    if (system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0) {
        fprintf(stderr, "skip: /usr/bin/python3 has no torch/numpy (scripts/install-deps installs python3-torch)\n");
        return 77;
    }
    const char *src = getenv("TL_SRC");
    char cmd[4200], path[] = "torch_ref.safetensors";
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/gpt2_torch_ref.py %s", src ? src : "..", path);
    if (system(cmd) != 0) {
        fprintf(stderr, "the PyTorch reference script failed\n");
        return 1;
    }
    tl_err e;
    tl_st_file f;
    if (tl_st_open(&f, path, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    tl_gpt2_config c = {meta_int(&f, "n_layer"), meta_int(&f, "n_head"), meta_int(&f, "n_embd"), meta_int(&f, "n_ctx"),
                        meta_int(&f, "vocab"), meta_int(&f, "padded_vocab")};
    int B = meta_int(&f, "B"), T = meta_int(&f, "T");
    tl_gpt2 m;
    if (tl_gpt2_init(&m, &c, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    for (int i = 0; i < m.n_tensors; i++) {
        const tl_tensor_info *t = &m.tensors[i];
        memcpy(m.params + t->offset, need(&f, t->name, TL_ST_F32, t->numel * 4)->data, t->numel * 4);
    }
    size_t BT = (size_t)B * T;
    const int32_t *in = need(&f, "inputs", TL_ST_I32, BT * 4)->data, *tg = need(&f, "targets", TL_ST_I32, BT * 4)->data;
    const float *ref_logits = need(&f, "logits", TL_ST_F32, BT * c.padded_vocab * 4)->data;
    float ref_loss[1];
    memcpy(ref_loss, need(&f, "loss", TL_ST_F32, 4)->data, sizeof ref_loss);
    double ref_losses[10]; /* tensors of other writers need not be aligned: copy out */
    memcpy(ref_losses, need(&f, "adamw_losses", TL_ST_F64, 80)->data, sizeof ref_losses);

    CHECK(tl_gpt2_forward(&m, in, tg, B, T, &e) == 0, "%s", e.msg);
    double le = rel_err(tl_gpt2_logits(&m), ref_logits, BT * c.padded_vocab);
    CHECK(le < 1e-4, "logits differ from torch by %.2e (relative)", le);
    CHECK(fabs(m.mean_loss - ref_loss[0]) < 1e-4 * fabs(ref_loss[0]), "loss %.7f vs torch %.7f", m.mean_loss, ref_loss[0]);
    tl_gpt2_zero_grad(&m);
    CHECK(tl_gpt2_backward(&m, 1.0f, &e) == 0, "%s", e.msg);
    double worst = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const tl_tensor_info *t = &m.tensors[i];
        char name[64];
        snprintf(name, sizeof name, "grad.%s", t->name);
        double r = rel_err(m.grads + t->offset, need(&f, name, TL_ST_F32, t->numel * 4)->data, t->numel);
        CHECK(r < 1e-4, "gradient of %s differs from torch by %.2e (relative)", t->name, r);
        if (r > worst) worst = r;
    }
    fprintf(stderr, "logits %.2e, loss %.7f vs %.7f, worst gradient tensor %.2e (relative)\n", le, m.mean_loss,
            ref_loss[0], worst);

    tl_adamw opt;
    CHECK(tl_adamw_init(&opt, m.n_params, 0.9f, 0.95f, 1e-8f, (float)atof(tl_st_meta(&f, "weight_decay")), &e) == 0, "%s", e.msg);
    float lr = (float)atof(tl_st_meta(&f, "lr"));
    double dl = 0;
    for (int s = 0; s < 10; s++) {
        tl_gpt2_forward(&m, in, tg, B, T, &e);
        double d = fabs(m.mean_loss - ref_losses[s]);
        if (d > dl) dl = d;
        CHECK(d < 1e-5, "AdamW step %d: loss %.7f vs torch %.7f", s, m.mean_loss, ref_losses[s]);
        tl_gpt2_zero_grad(&m);
        tl_gpt2_backward(&m, 1.0f, &e);
        tl_adamw_update(&opt, m.params, m.grads, m.tensors, m.n_tensors, lr);
    }
    fprintf(stderr, "10 AdamW steps: largest loss difference %.2e (%.6f -> %.6f)\n", dl, ref_losses[0], ref_losses[9]);
    tl_adamw_free(&opt);
    tl_gpt2_free(&m);
    tl_st_close(&f);
    remove(path);
    CHECK_DONE();
}
