/* `tinyllm tokenizer encode|decode|train`: BPE tokenizers from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "tokenizer/bpe.h"
#include "tokenizer/train.h"

static int read_all(FILE *f, const char *name, tl_buf *b, tl_err *e) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tl_buf_append(b, chunk, n, e)) return -1;
    if (ferror(f)) return tl_errf(e, "%s: read error", name);
    return 0;
}

static int train(const char *const *files, int n, const tl_bpe_train_opts *o, const char *out) {
    tl_err e;
    tl_bpe_train_stats st;
    if (n < 1 || !out) {
        tl_errf(&e, "tokenizer train: give --out FOLDER and input files (see 'tinyllm tokenizer --help')");
        return tl_cli_fail(&e);
    }
    if (tl_bpe_train(files, n, o, out, &st, &e)) return tl_cli_fail(&e);
    printf("trained %s: %d merges, vocabulary %d (digits %d) from %.2f MB (%llu pieces, %llu distinct); counting %.1f s "
           "(%.1f MB/s), merging %.1f s (%.0f merges/s)\n",
           out, st.merges, st.merges + 257, o->digits, (double)st.bytes / 1e6, (unsigned long long)st.pieces,
           (unsigned long long)st.unique_pieces, st.seconds_count, (double)st.bytes / 1e6 / st.seconds_count, st.seconds_merge,
           st.merges / (st.seconds_merge > 0 ? st.seconds_merge : 1e-9));
    return 0;
}

int tl_cmd_tokenizer(int argc, char **argv) {
    const char *file = NULL, *vocab = NULL, *merges = NULL, *spec = NULL, *out_dir = NULL, *name = NULL, *field = "text";
    int vocab_size = 8192, digits = 1;
    long long max_bytes = 0;
    tl_opt opts[] = {
        {"file", 'f', TL_OPT_STR, &file, "encode/decode: read the input from this file instead of the arguments or stdin"},
        {"tokenizer", 0, TL_OPT_STR, &spec, "encode/decode: gpt2 (default) or a folder written by 'tokenizer train'"},
        {"vocab", 0, TL_OPT_STR, &vocab, "encode/decode: a GPT-2-format encoder.json (with --merges)"},
        {"merges", 0, TL_OPT_STR, &merges, "encode/decode: a GPT-2-format vocab.bpe (with --vocab)"},
        {"out", 'o', TL_OPT_STR, &out_dir, "train: the tokenizer folder to write"},
        {"vocab-size", 0, TL_OPT_INT, &vocab_size, "train: tokens including the 256 bytes and <|endoftext|>"},
        {"digits", 0, TL_OPT_INT, &digits, "train: digits per piece (1: every digit alone; 0: GPT-2's whole runs)"},
        {"max-bytes", 0, TL_OPT_I64, &max_bytes, "train: read at most this much text (k/M/G; 0: all)"},
        {"name", 0, TL_OPT_STR, &name, "train: the tokenizer's name in meta.json and checkpoints (default bpe<size>-d<digits>)"},
        {"field", 0, TL_OPT_STR, &field, "train: JSONL field holding the text"},
    };
    tl_cmd cmd = {"tokenizer", "tinyllm tokenizer encode [TEXT] | decode [IDS...] | train FILE... [options]",
                  "encode: prints the GPT-2 token ids of TEXT (several arguments are joined by spaces), else\n"
                  "of --file, else of stdin, space-separated on one line. Ids are byte-identical to tiktoken's\n"
                  "gpt2 encoding; any bytes encode (invalid UTF-8 too); <|endoftext|> is ordinary text.\n"
                  "decode: writes the raw bytes of the ids given as arguments, else in --file, else on stdin\n"
                  "(separated by spaces, commas or newlines).\n"
                  "The vocabulary is GPT-2's encoder.json + vocab.bpe from $TINYLLM_DATA/gpt2/ (default\n"
                  "~/.cache/tinyllm/gpt2/, installed by scripts/install-deps), --tokenizer FOLDER, or --vocab + --merges.\n"
                  "train: learns a byte-level BPE of --vocab-size tokens from text / JSONL files, with digit runs\n"
                  "split into --digits digits, and writes a folder (tokenizer.cfg, encoder.json, vocab.bpe).\n\n"
                  "examples: tinyllm tokenizer encode \"Hello, world!\"      -> 15496 11 995 0\n"
                  "          tinyllm tokenizer decode 15496 11 995 0        -> Hello, world!\n"
                  "          tinyllm tokenizer encode -f notes.txt | wc -w   (count tokens)\n"
                  "          tinyllm tokenizer train --vocab-size 8192 --digits 1 -o tok/sensors corpus.jsonl sensors.txt",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[4096];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 4096, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos >= 1 && !strcmp(pos[0], "train")) {
        char def[64];
        snprintf(def, sizeof def, "bpe%d-d%d", vocab_size, digits);
        tl_bpe_train_opts o = {.vocab_size = vocab_size, .digits = digits, .max_bytes = max_bytes > 0 ? (size_t)max_bytes : 0,
                               .name = name ? name : def, .field = field};
        return train(pos + 1, npos - 1, &o, out_dir);
    }
    if (npos < 1 || (strcmp(pos[0], "encode") && strcmp(pos[0], "decode"))) {
        if (npos < 1) tl_errf(&e, "tokenizer: expected 'encode', 'decode' or 'train' (see 'tinyllm tokenizer --help')");
        else tl_errf(&e, "tokenizer: unknown mode '%s': expected 'encode', 'decode' or 'train' (see 'tinyllm tokenizer --help')", pos[0]);
        return tl_cli_fail(&e);
    }
    int encode = !strcmp(pos[0], "encode");
    if (npos > 1 && file) {
        tl_errf(&e, "tokenizer: give the input as arguments or as --file, not both");
        return tl_cli_fail(&e);
    }
    if (!!vocab != !!merges) {
        tl_errf(&e, "tokenizer: --vocab and --merges go together");
        return tl_cli_fail(&e);
    }
    tl_bpe *bpe = NULL;
    tl_buf in = {0}, out = {0};
    tl_ivec ids = {0};
    int rc = 1;
    if (vocab ? tl_bpe_load_gpt2(&bpe, vocab, merges, &e) : tl_bpe_load(&bpe, spec, &e)) goto done;
    /* input: the arguments joined by spaces, else the file, else stdin */
    if (npos > 1) {
        for (int i = 1; i < npos; i++)
            if ((i > 1 && tl_buf_append(&in, " ", 1, &e)) || tl_buf_append(&in, pos[i], strlen(pos[i]), &e)) goto done;
    } else {
        FILE *f = file ? fopen(file, "rb") : stdin;
        if (!f) {
            tl_errf(&e, "%s: cannot open: %s", file, strerror(errno));
            goto done;
        }
        int bad = read_all(f, file ? file : "stdin", &in, &e);
        if (file) fclose(f);
        if (bad) goto done;
    }
    const char *src = npos > 1 ? "arguments" : file ? file : "stdin";
    if (encode) {
        if (tl_bpe_encode(bpe, in.p ? in.p : "", in.n, &ids, &e)) goto done;
        for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.v[i]);
        printf("\n");
    } else {
        char *p = in.p, *end;
        for (size_t i = 0; p && i < in.n;) {
            while (i < in.n && strchr(" \t\r\n,", p[i])) i++;
            if (i >= in.n) break;
            errno = 0;
            long v = strtol(p + i, &end, 10);
            if (end == p + i || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" \t\r\n,", *end))) {
                int k = (int)strcspn(p + i, " \t\r\n,");
                tl_errf(&e, "%s: '%.*s' is not a token id", src, k < 20 ? k : 20, p + i);
                goto done;
            }
            if (tl_ivec_push(&ids, (int32_t)v, &e)) goto done;
            i = (size_t)(end - p);
        }
        if (tl_bpe_decode(bpe, ids.v, ids.n, &out, &e)) {
            tl_err_wrap(&e, "%s", src);
            goto done;
        }
        fwrite(out.p ? out.p : "", 1, out.n, stdout);
    }
    if (fflush(stdout) || ferror(stdout)) {
        tl_errf(&e, "stdout: write error: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_bpe_free(bpe);
    tl_buf_free(&in);
    tl_buf_free(&out);
    tl_ivec_free(&ids);
    return rc;
}
