/* The edge runtime (include/tinyllm/tinyllm.h) against an independent reference, the training
 * model's full forward (model/gpt2.c, OpenMP, another code path), on random GPT-2 models exported
 * to GGUF:
 *   - f32 files: logits at every position (one prefill over more than a forward chunk, and token by
 *     token) within float rounding of the reference, for every kernel set and 1 or 3 threads;
 *     rewinding the KV cache and feeding again gives the same logits;
 *   - f16/q8_0/q4_0 files: logits against the reference run on the file's decoded weights, within
 *     the error the activation quantization adds (bounded per type);
 *   - generation: greedy text equals the reference's argmax chain; stop strings cut the text
 *     before them, also when streamed; a seed gives the same sampled text twice;
 *   - classification: label log-probabilities equal sums of the reference's log-softmax;
 *   - errors: context overflow, bad ids, threads <= 0, unknown kernels are clear failures;
 *   - memory: a q8_0 file's pages leave memory once its matrices are repacked (Linux smaps). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "formats/gguf_model.h"
#include "model/gpt2.h"
#include "quant/quant.h"
#include "tinyllm/tinyllm.h"
#include "tokenizer/bpe.h"

enum { N_CTX = 320, SEQ_MAX = 300 };

static tl_bpe *bpe;
/* Contexts run with 1 and 3 threads; TL_TEST_THREADS=1 keeps to one (qemu-user, which hangs in
 * pthread_create in this project's sandboxes, runs these tests single-threaded). */
static int max_threads = 3;
/* The prefill: 300 tokens, more than one forward chunk; TL_TEST_SEQ shortens it under emulation. */
static int SEQ = SEQ_MAX;

/* A random model with weights scaled up k times from the 0.02 init, so distributions are sharp and
 * a wrong position or token moves the logits far beyond rounding (the quantized files use k = 2:
 * at 4 the random network is chaotic enough to amplify int8 activation error to ~10%). */
static void make_model(tl_gpt2 *m, const char *shape, uint64_t seed, float k) {
    tl_gpt2_config c;
    tl_err e;
    if (tl_gpt2_config_make(&c, shape, N_CTX, tl_bpe_vocab_size(bpe), &e) || tl_gpt2_init(m, &c, &e)) abort();
    tl_gpt2_init_weights(m, seed);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= k;
}

/* max |a - b| / max |b| over n floats */
static double rel_err(const float *a, const float *b, size_t n) {
    double err = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs((double)a[i] - b[i]));
        norm = fmax(norm, fabs((double)b[i]));
        if (isnan(a[i])) return INFINITY;
    }
    return err / norm;
}

/* logits of the reference at every position of seq, [n][vocab] */
static float *ref_logits(tl_gpt2 *m, const int32_t *seq, int n) {
    tl_err e;
    if (tl_gpt2_forward(m, seq, NULL, 1, n, &e)) abort();
    int V = m->cfg.vocab, Vp = m->cfg.padded_vocab;
    float *out = malloc(sizeof(float) * (size_t)n * V);
    for (int t = 0; t < n; t++) memcpy(out + (size_t)t * V, tl_gpt2_logits(m) + (size_t)t * Vp, sizeof(float) * (size_t)V);
    return out;
}

static void test_logits(const char *shape, uint32_t type, float scale, double tol) {
    tl_gpt2 m, dec;
    tl_err e;
    make_model(&m, shape, 3, scale);
    const char *path = "t_runtime.gguf";
    CHECK(tl_gguf_export_gpt2(&m, bpe, NULL, "t", type, path, &e) == 0, "export: %s", e.msg);
    /* the reference runs on the weights as the file holds them */
    CHECK(tl_gguf_import_gpt2(path, &dec, &e) == 0, "import: %s", e.msg);
    int V = m.cfg.vocab;
    int32_t seq[SEQ_MAX];
    for (int i = 0; i < SEQ; i++) seq[i] = (int32_t)((i * 7919u + 13) % (unsigned)V);
    seq[0] = V - 1;
    float *ref = ref_logits(&dec, seq, SEQ), *all = malloc(sizeof(float) * (size_t)SEQ * V);
    tl_model *rm;
    CHECK(tl_model_open(&rm, path, &e) == 0, "open: %s", e.msg);
    const tl_model_info *in = tl_model_get_info(rm);
    CHECK(in->vocab == V && in->n_ctx == N_CTX && in->n_layer == m.cfg.n_layer && in->type == type && in->eot == V - 1,
          "model info");
    static const char *const kernel_sets[] = {"scalar", "avx2", "avx512", "avx512-d256", "neon", "neon-dot"};
    for (size_t ki = 0; ki < sizeof kernel_sets / sizeof *kernel_sets; ki++) {
        const char *kn = kernel_sets[ki];
        for (int threads = 1; threads <= max_threads; threads += 2) {
            tl_ctx *c;
            if (tl_ctx_init_kernels(&c, rm, 0, threads, kn, &e)) continue; /* not on this CPU */
            /* one prefill of the whole sequence (more than one forward chunk) */
            for (size_t i = 0; i < (size_t)SEQ * V; i++) all[i] = NAN;
            const float *last = tl_ctx_eval(c, seq, SEQ, all, &e);
            double r1 = rel_err(all, ref, (size_t)SEQ * V);
            CHECK(last && r1 < tol, "%s %s prefill, %s, %d threads: rel error %.3g (tolerance %.3g)", shape, tl_ggml_type_name(type), kn,
                  threads, r1, tol);
            /* rewind to 5 and decode token by token from there */
            tl_ctx_rewind(c, 5);
            double r2 = 0;
            for (int t = 5; t < 40; t++) {
                const float *lg = tl_ctx_eval(c, seq + t, 1, NULL, &e);
                r2 = fmax(r2, lg ? rel_err(lg, ref + (size_t)t * V, (size_t)V) : INFINITY);
            }
            CHECK(r2 < tol, "%s %s decode after rewind, %s: rel error %.3g", shape, tl_ggml_type_name(type), kn, r2);
            tl_ctx_free(c);
        }
    }
    tl_model_free(rm);
    free(ref), free(all);
    tl_gpt2_free(&m), tl_gpt2_free(&dec);
    unlink(path);
}

typedef struct sink {
    char text[4096];
    size_t n;
    int calls;
} sink;

static int collect(void *u, const char *s, size_t n) {
    sink *k = u;
    if (k->n + n < sizeof k->text) memcpy(k->text + k->n, s, n), k->n += n;
    k->text[k->n] = 0;
    k->calls++;
    return 0;
}

static void test_generate_classify(void) {
    tl_gpt2 m;
    tl_err e;
    make_model(&m, "2x2x64", 9, 4.0f);
    const char *path = "t_runtime_gen.gguf";
    CHECK(tl_gguf_export_gpt2(&m, bpe, NULL, "t", TL_GGML_F32, path, &e) == 0, "export: %s", e.msg);
    tl_model *rm;
    tl_ctx *c;
    if (tl_model_open(&rm, path, &e) || tl_ctx_init(&c, rm, 0, max_threads > 1 ? 2 : 1, &e)) {
        CHECK(0, "open: %s", e.msg);
        return;
    }
    int V = m.cfg.vocab;
    /* greedy generation equals the reference's argmax chain, recomputed from scratch each step */
    const char *prompt = "The sensor read";
    tl_ivec ids = {0};
    tl_ivec_push(&ids, V - 1, &e);
    tl_bpe_encode(bpe, prompt, strlen(prompt), &ids, &e);
    int n_prompt = (int)ids.n;
    tl_buf want = {0};
    for (int k = 0; k < 12; k++) {
        float *lg = ref_logits(&m, ids.v, (int)ids.n);
        const float *row = lg + (ids.n - 1) * (size_t)V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        free(lg);
        if (best == V - 1) break;
        size_t len;
        const char *b = tl_bpe_token(bpe, best, &len);
        tl_buf_append(&want, b, len, &e);
        tl_ivec_push(&ids, best, &e);
    }
    tl_buf_append(&want, "", 1, &e);
    tl_gen_params p = tl_gen_default();
    p.sampling.temp = 0;
    p.n_predict = 12;
    sink s = {0};
    p.on_text = collect;
    p.user = &s;
    tl_gen_result r;
    CHECK(tl_generate(c, prompt, &p, &r, &e) == 0, "generate: %s", e.msg);
    CHECK(!strcmp(s.text, want.p), "greedy text '%s', reference '%s'", s.text, want.p);
    CHECK(r.n_prompt == n_prompt && r.n_gen == (int)ids.n - n_prompt, "%d prompt + %d generated tokens, want %d + %zu", r.n_prompt,
          r.n_gen, n_prompt, ids.n - (size_t)n_prompt);
    /* a stop string: the text ends right before its first occurrence, streamed or not */
    if (strlen(want.p) > 6) {
        char stop[4];
        memcpy(stop, want.p + 4, 2), stop[2] = 0;
        const char *stops[] = {"never appears", stop};
        const char *at = strstr(want.p, stop);
        sink s2 = {0};
        p.user = &s2;
        p.stop = stops;
        p.n_stop = 2;
        CHECK(tl_generate(c, prompt, &p, &r, &e) == 0, "generate with stop: %s", e.msg);
        CHECK(r.finish == TL_FINISH_STOP && s2.n == (size_t)(at - want.p) && !strncmp(s2.text, want.p, s2.n),
              "stop '%s': got '%s' (finish %d), want '%.*s'", stop, s2.text, r.finish, (int)(at - want.p), want.p);
        p.stop = NULL, p.n_stop = 0;
    }
    /* the same seed samples the same text */
    sink a = {0}, b = {0};
    p.sampling = tl_sampling_default();
    p.sampling.seed = 77;
    p.user = &a;
    tl_generate(c, prompt, &p, &r, &e);
    p.user = &b;
    tl_generate(c, prompt, &p, &r, &e);
    CHECK(a.n > 0 && a.n == b.n && !memcmp(a.text, b.text, a.n), "same seed, different text: '%s' vs '%s'", a.text, b.text);
    /* classification: sums of the reference's log-softmax over each label's tokens */
    const char *labels[] = {"Tap", "Double", "Hold on"};
    double lp[3], pr[3];
    int best = tl_classify(c, prompt, labels, 3, "\n\n### End", lp, pr, &e);
    CHECK(best >= 0, "classify: %s", e.msg);
    for (int i = 0; i < 3 && best >= 0; i++) {
        tl_ivec seq = {0};
        tl_ivec_push(&seq, V - 1, &e);
        tl_bpe_encode(bpe, prompt, strlen(prompt), &seq, &e);
        size_t np = seq.n;
        char lab[64];
        snprintf(lab, sizeof lab, "%s\n\n### End", labels[i]);
        tl_bpe_encode(bpe, lab, strlen(lab), &seq, &e);
        float *lg = ref_logits(&m, seq.v, (int)seq.n - 1);
        double ll = 0;
        for (size_t j = np; j < seq.n; j++) {
            const float *row = lg + (j - 1) * (size_t)V;
            double mx = -INFINITY, z = 0;
            for (int v = 0; v < V; v++) mx = fmax(mx, row[v]);
            for (int v = 0; v < V; v++) z += exp(row[v] - mx);
            ll += row[seq.v[j]] - mx - log(z);
        }
        CHECK(fabs(ll - lp[i]) < 1e-3 * (1 + fabs(ll)), "label %s: %.6f, reference %.6f", labels[i], lp[i], ll);
        free(lg);
        tl_ivec_free(&seq);
    }
    CHECK(best < 0 || fabs(pr[0] + pr[1] + pr[2] - 1) < 1e-9, "probabilities sum to %g", pr[0] + pr[1] + pr[2]);
    /* errors */
    int32_t bad = V;
    tl_ctx_rewind(c, 0);
    CHECK(!tl_ctx_eval(c, &bad, 1, NULL, &e) && strstr(e.msg, "outside the vocabulary"), "bad id: %s", e.msg);
    p.n_predict = N_CTX;
    CHECK(tl_generate(c, prompt, &p, &r, &e) == -1 && strstr(e.msg, "exceeds the context of 320"), "overflow: %s", e.msg);
    tl_ctx *c2;
    CHECK(tl_ctx_init(&c2, rm, 0, 0, &e) == -1 && strstr(e.msg, "threads"), "0 threads: %s", e.msg);
    CHECK(tl_ctx_init(&c2, rm, N_CTX + 1, 1, &e) == -1 && strstr(e.msg, "context"), "context too large: %s", e.msg);
    CHECK(tl_ctx_init_kernels(&c2, rm, 0, 1, "sse9", &e) == -1 && strstr(e.msg, "available: "), "unknown kernels: %s", e.msg);
    tl_ctx_free(c);
    tl_model_free(rm);
    tl_ivec_free(&ids);
    tl_buf_free(&want);
    tl_gpt2_free(&m);
    unlink(path);
}

/* Whether madvise(MADV_DONTNEED) is carried out here: a private anonymous page reads back as zero
 * after it (qemu-user ignores the call, and the page keeps its byte). */
static int dontneed_works(void) {
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    p[0] = 1;
    int works = madvise(p, (size_t)page, MADV_DONTNEED) == 0 && ((volatile unsigned char *)p)[0] == 0;
    munmap(p, (size_t)page);
    return works;
}

/* kB resident of the mappings of files whose path ends in name (/proc/self/smaps), -1 without it */
static long mapped_kb(const char *name) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[4096], perms[8];
    unsigned long lo, hi;
    long kb = 0, v;
    int in = 0;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = 0;
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3) in = n >= nl && !strcmp(line + n - nl, name); /* a mapping */
        else if (in && sscanf(line, "Rss: %ld kB", &v) == 1) kb += v;
    }
    fclose(f);
    return kb;
}

/* The repacked q8_0 matrices are in memory once: after opening the file and a token, at most half
 * of the file is mapped in (it is all read while repacking; without the drop, all of it stays). */
static void test_file_pages(void) {
    if (!dontneed_works() || mapped_kb("/") < 0) {
        fprintf(stderr, "file pages: skipped (madvise not carried out here, or no /proc/self/smaps)\n");
        return;
    }
    tl_gpt2 m;
    tl_err e;
    make_model(&m, "2x2x384", 3, 1.0f); /* a 20 MB token embedding */
    const char *path = "t_runtime_pages.gguf";
    CHECK(tl_gguf_export_gpt2(&m, bpe, NULL, "t", TL_GGML_Q8_0, path, &e) == 0, "export: %s", e.msg);
    tl_gpt2_free(&m);
    tl_model *rm;
    tl_ctx *c;
    if (tl_model_open(&rm, path, &e) || tl_ctx_init(&c, rm, 0, 1, &e)) {
        CHECK(0, "open: %s", e.msg);
        return;
    }
    int32_t tok = 5;
    CHECK(tl_ctx_eval(c, &tok, 1, NULL, &e), "eval: %s", e.msg);
    FILE *f = fopen(path, "rb");
    long size = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (f) fclose(f);
    long kb = mapped_kb(path);
    fprintf(stderr, "file pages: %ld of %ld kB of %s mapped in after open and a token\n", kb, size >> 10, path);
    CHECK(size > 0 && kb >= 0 && kb * 1024 < size / 2, "%s: %ld kB of %ld mapped in: the repacked pages were not let go of", path, kb, size >> 10);
    tl_ctx_free(c);
    tl_model_free(rm);
    unlink(path);
}

int main(void) {
    tl_err e;
    if (getenv("TL_TEST_THREADS")) max_threads = atoi(getenv("TL_TEST_THREADS"));
    if (getenv("TL_TEST_SEQ")) SEQ = atoi(getenv("TL_TEST_SEQ")) < SEQ_MAX ? atoi(getenv("TL_TEST_SEQ")) : SEQ_MAX;
    if (SEQ < 41) SEQ = 41; /* the decode check runs to position 40 */
    if (tl_bpe_load_gpt2_default(&bpe, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 77;
    }
    /* measured at k = 2: f32 6e-7, f16 8e-7, q8_0 1.7e-2, q4_0 1.5e-2, alike for every kernel set */
    test_logits("2x2x64", TL_GGML_F32, 4.0f, 2e-5);
    test_logits("2x4x128", TL_GGML_F16, 4.0f, 2e-5);
    test_logits("2x2x64", TL_GGML_Q8_0, 2.0f, 3e-2);
    test_logits("2x2x64", TL_GGML_Q4_0, 2.0f, 3e-2);
    test_generate_classify();
    test_file_pages();
    tl_bpe_free(bpe);
    CHECK_DONE();
}
