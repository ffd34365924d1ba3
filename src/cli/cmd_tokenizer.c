/* `tinyllm tokenizer encode|decode`: GPT-2 BPE from the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "tokenizer/bpe.h"

static int read_all(FILE *f, const char *name, tl_buf *b, tl_err *e) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (tl_buf_append(b, chunk, n, e)) return -1;
    if (ferror(f)) return tl_errf(e, "%s: read error", name);
    return 0;
}

int tl_cmd_tokenizer(int argc, char **argv) {
    const char *file = NULL, *vocab = NULL, *merges = NULL;
    tl_opt opts[] = {
        {"file", 'f', TL_OPT_STR, &file, "read the input from this file instead of the arguments or stdin"},
        {"vocab", 0, TL_OPT_STR, &vocab, "encoder.json (default: the data directory's GPT-2 files)"},
        {"merges", 0, TL_OPT_STR, &merges, "vocab.bpe (default: the data directory's GPT-2 files)"},
    };
    tl_cmd cmd = {"tokenizer", "tinyllm tokenizer encode [TEXT] | decode [IDS...] [options]",
                  "encode: prints the GPT-2 token ids of TEXT (several arguments are joined by spaces), else\n"
                  "of --file, else of stdin, space-separated on one line. Ids are byte-identical to tiktoken's\n"
                  "gpt2 encoding; any bytes encode (invalid UTF-8 too); <|endoftext|> is ordinary text.\n"
                  "decode: writes the raw bytes of the ids given as arguments, else in --file, else on stdin\n"
                  "(separated by spaces, commas or newlines).\n"
                  "The vocabulary is GPT-2's encoder.json + vocab.bpe from $TINYLLM_DATA/gpt2/ (default\n"
                  "~/.cache/tinyllm/gpt2/, installed by scripts/install-deps), or --vocab + --merges.\n\n"
                  "examples: tinyllm tokenizer encode \"Hello, world!\"      -> 15496 11 995 0\n"
                  "          tinyllm tokenizer decode 15496 11 995 0        -> Hello, world!\n"
                  "          tinyllm tokenizer encode -f notes.txt | wc -w   (count tokens)",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[4096];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 4096, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos < 1 || (strcmp(pos[0], "encode") && strcmp(pos[0], "decode"))) {
        tl_errf(&e, "tokenizer: expected 'encode' or 'decode' (see 'tinyllm tokenizer --help')");
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
    if (vocab ? tl_bpe_load_gpt2(&bpe, vocab, merges, &e) : tl_bpe_load_gpt2_default(&bpe, &e)) goto done;
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
