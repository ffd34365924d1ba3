/* prepare: reads documents from text/JSONL files, tokenizes them, and writes train/val shards. */
#include "data/prepare.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/rng.h"
#include "data/csv.h"
#include "data/shard.h"

/* A document longer than this is tokenized in pieces, cut only after a lone '\n' between two
 * non-space ASCII bytes: GPT-2's pre-tokenizer gives the same tokens on both sides of such a cut. */
#define TL_DOC_CHUNK (1u << 20)

typedef struct split_out {
    tl_shard_writer w;
    int open, index;
} split_out;

typedef struct prep {
    const tl_bpe *bpe;
    const tl_prepare_opts *o;
    tl_prepare_stats *st;
    char stage[4096];
    split_out out[2];
    int which;   /* split of the document being written */
    tl_rng rng;
    tl_ivec ids;
    tl_progress prog;
    FILE *ft[2]; /* finetune_{train,val}.jsonl in the stage, opened on the first CSV row */
} prep;

static const char *split_name[2] = {"train", "val"};

static int emit_tokens(prep *p, const int32_t *ids, size_t n, tl_err *e) {
    split_out *s = &p->out[p->which];
    while (n > 0) {
        if (!s->open) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s_%06d.bin", p->stage, split_name[p->which], s->index);
            if (tl_shard_writer_open(&s->w, path, tl_bpe_vocab_size(p->bpe), e)) return -1;
            s->open = 1;
        }
        uint64_t room = p->o->shard_tokens - s->w.n_tokens;
        size_t m = n < room ? n : (size_t)room;
        if (tl_shard_writer_push(&s->w, ids, m, e)) return -1;
        p->st->tokens[p->which] += m;
        ids += m;
        n -= m;
        if (s->w.n_tokens == p->o->shard_tokens) {
            s->open = 0;
            s->index++;
            p->st->shards[p->which]++;
            if (tl_shard_writer_commit(&s->w, e)) return -1;
        }
    }
    return 0;
}

/* Starts a document: draws its split and writes the separating end-of-text token. */
static int doc_begin(prep *p, tl_err *e) {
    p->which = tl_rng_f32(&p->rng) < p->o->val_fraction ? 1 : 0;
    p->st->docs[p->which]++;
    int32_t eot = tl_bpe_eot(p->bpe);
    return emit_tokens(p, &eot, 1, e);
}

static int doc_text(prep *p, const char *text, size_t len, tl_err *e) {
    p->ids.n = 0;
    if (tl_bpe_encode(p->bpe, text, len, &p->ids, e)) return -1;
    p->st->bytes += len;
    return emit_tokens(p, p->ids.v, p->ids.n, e);
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int safe_cut(const char *b, size_t n) { /* b[n-1] == '\n' with non-space ASCII around it */
    return n >= 2 && b[n - 1] == '\n' && (unsigned char)b[n - 2] > ' ' && (unsigned char)b[n - 2] < 0x80;
}

static int read_jsonl(prep *p, FILE *f, const char *path, tl_err *e) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (is_blank(line, (size_t)n)) continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        json_t *t = json_is_object(j) ? json_object_get(j, p->o->field) : NULL;
        if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", path, lineno, je.text);
        else if (!json_is_object(j)) rc = tl_errf(e, "%s:%ld: expected a JSON object", path, lineno);
        else if (!json_is_string(t)) rc = tl_errf(e, "%s:%ld: no string field \"%s\"", path, lineno, p->o->field);
        else if (doc_begin(p, e) || doc_text(p, json_string_value(t), json_string_length(t), e)) rc = -1;
        json_decref(j);
        if (rc) break;
        tl_progress_update(&p->prog, p->st->tokens[0] + p->st->tokens[1], NULL);
    }
    free(line);
    return rc;
}

/* Plain text: documents per tl_doc_split; a paragraph's trailing newline is not part of it. */
static int read_text(prep *p, FILE *f, tl_err *e) {
    tl_buf doc = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int in_doc = 0, rc = 0;
    for (;;) {
        n = getline(&line, &cap, f);
        int end = n <= 0, blank = !end && is_blank(line, (size_t)n);
        int close = end || (p->o->split == TL_DOCS_PARAGRAPH && blank) || p->o->split == TL_DOCS_LINE;
        if (!end && !(blank && p->o->split != TL_DOCS_FILE)) {
            if (!in_doc && (rc = doc_begin(p, e))) break;
            in_doc = 1;
            if (doc.n >= TL_DOC_CHUNK && safe_cut(doc.p, doc.n) && (unsigned char)line[0] > ' ' &&
                (unsigned char)line[0] < 0x80) {
                if ((rc = doc_text(p, doc.p, doc.n, e))) break;
                doc.n = 0;
            }
            if ((rc = tl_buf_append(&doc, line, (size_t)n, e))) break;
        }
        if (close && in_doc) {
            size_t len = doc.n;
            if (p->o->split != TL_DOCS_FILE)
                while (len > 0 && (doc.p[len - 1] == '\n' || doc.p[len - 1] == '\r')) len--;
            if ((rc = doc_text(p, doc.p, len, e))) break;
            doc.n = 0;
            in_doc = 0;
            tl_progress_update(&p->prog, p->st->tokens[0] + p->st->tokens[1], NULL);
        }
        if (end) break;
    }
    free(line);
    tl_buf_free(&doc);
    return rc;
}

/* CSV task rows: the header names the columns; each record becomes one rendered document. */
typedef struct csv_ctx {
    prep *p;
    const char *path;
    int ncols, col[3]; /* instruction (-1: fixed text), input, output */
    tl_buf prompt, resp;
} csv_ctx;

static int csv_column(const tl_csv_row *h, const char *name, const char *path, tl_err *e) {
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->f[i], name)) return i;
    char cols[512] = "";
    for (int i = 0; i < h->n && strlen(cols) < 400; i++) snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", i ? ", " : "", h->f[i]);
    return tl_errf(e, "%s:%ld: no column '%s' (the header has: %s)", path, h->line, name, cols);
}

static int write_finetune(prep *p, const tl_buf *prompt, const tl_buf *resp, tl_err *e) {
    if (!p->ft[p->which]) {
        char path[4200];
        snprintf(path, sizeof path, "%s/finetune_%s.jsonl", p->stage, split_name[p->which]);
        if (!(p->ft[p->which] = fopen(path, "w"))) return tl_errf(e, "%s: cannot create: %s", path, strerror(errno));
    }
    json_t *j = json_pack("{s:s%, s:s%}", "prompt", prompt->p, prompt->n, "response", resp->p, resp->n);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int bad = !s || fprintf(p->ft[p->which], "%s\n", s) < 0;
    free(s);
    json_decref(j);
    return bad ? tl_errf(e, "finetune_%s.jsonl: write failed", split_name[p->which]) : 0;
}

static int csv_row(void *ctx, const tl_csv_row *r, tl_err *e) {
    csv_ctx *c = ctx;
    const tl_task *t = c->p->o->task;
    if (c->ncols == 0) { /* the header */
        c->ncols = r->n;
        c->col[0] = t->instruction_col ? csv_column(r, t->instruction_col, c->path, e) : -1;
        c->col[1] = csv_column(r, t->input_col, c->path, e);
        c->col[2] = csv_column(r, t->output_col, c->path, e);
        return (t->instruction_col && c->col[0] < 0) || c->col[1] < 0 || c->col[2] < 0 ? -1 : 0;
    }
    if (r->n != c->ncols) return tl_errf(e, "%s:%ld: %d fields, but the header has %d", c->path, r->line, r->n, c->ncols);
    const char *out = r->f[c->col[2]];
    size_t on = r->len[c->col[2]];
    if (t->kind == TL_TASK_CLASSIFY && tl_task_label(t, out, on) < 0)
        return tl_errf(e, "%s:%ld: label '%.*s' is not in the task's label set", c->path, r->line, (int)(on < 60 ? on : 60), out);
    if (t->kind == TL_TASK_REGRESS) {
        char *end;
        double v = strtod(out, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == out || *end || !isfinite(v)) return tl_errf(e, "%s:%ld: output '%.*s' is not a number", c->path, r->line, (int)(on < 60 ? on : 60), out);
    }
    const char *ins = c->col[0] >= 0 ? r->f[c->col[0]] : t->instruction;
    size_t insn = c->col[0] >= 0 ? r->len[c->col[0]] : strlen(t->instruction);
    c->prompt.n = c->resp.n = 0;
    if (tl_task_prompt(t, ins, insn, r->f[c->col[1]], r->len[c->col[1]], &c->prompt, e) ||
        tl_task_response(out, on, &c->resp, e))
        return tl_err_wrap(e, "%s:%ld", c->path, r->line);
    prep *p = c->p;
    if (doc_begin(p, e) || doc_text(p, c->prompt.p, c->prompt.n, e) || doc_text(p, c->resp.p, c->resp.n, e) ||
        write_finetune(p, &c->prompt, &c->resp, e))
        return -1;
    tl_progress_update(&p->prog, p->st->tokens[0] + p->st->tokens[1], NULL);
    return 0;
}

static int read_csv(prep *p, const char *path, tl_err *e) {
    if (!p->o->task) return tl_errf(e, "%s: CSV input needs a task spec (--task FILE; see tasks/)", path);
    csv_ctx c = {.p = p, .path = path};
    int rc = tl_csv_read(path, csv_row, &c, e);
    if (!rc && c.ncols == 0) rc = tl_errf(e, "%s: empty file (no header row)", path);
    tl_buf_free(&c.prompt);
    tl_buf_free(&c.resp);
    return rc;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void remove_stage(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[4400];
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static int write_meta(prep *p, tl_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", p->stage);
    json_t *j = json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:i}", "tokenizer", p->o->tokenizer_name,
                          "vocab_size", tl_bpe_vocab_size(p->bpe), "eot", tl_bpe_eot(p->bpe), "train_tokens",
                          (json_int_t)p->st->tokens[0], "val_tokens", (json_int_t)p->st->tokens[1], "train_docs",
                          (json_int_t)p->st->docs[0], "val_docs", (json_int_t)p->st->docs[1], "train_shards",
                          p->st->shards[0], "val_shards", p->st->shards[1]);
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s) return tl_errf(e, "%s: out of memory", path);
    tl_afile af;
    int rc = tl_afile_open(&af, path, e) || tl_afile_write(&af, s, strlen(s), e) || tl_afile_write(&af, "\n", 1, e) ||
             tl_afile_commit(&af, e);
    if (rc) tl_afile_abort(&af);
    free(s);
    return rc ? -1 : 0;
}

/* Moves the staged files into out_dir (shards first, meta.json last). */
static int publish(prep *p, tl_err *e) {
    char from[4400], to[4400];
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < p->st->shards[s]; i++) {
            snprintf(from, sizeof from, "%s/%s_%06d.bin", p->stage, split_name[s], i);
            snprintf(to, sizeof to, "%s/%s_%06d.bin", p->o->out_dir, split_name[s], i);
            if (rename(from, to)) return tl_errf(e, "%s: cannot move into place: %s", to, strerror(errno));
        }
    for (int s = 0; s < 2; s++) {
        snprintf(from, sizeof from, "%s/finetune_%s.jsonl", p->stage, split_name[s]);
        snprintf(to, sizeof to, "%s/finetune_%s.jsonl", p->o->out_dir, split_name[s]);
        if (tl_file_exists(from) && rename(from, to)) return tl_errf(e, "%s: cannot move into place: %s", to, strerror(errno));
    }
    snprintf(from, sizeof from, "%s/meta.json", p->stage);
    snprintf(to, sizeof to, "%s/meta.json", p->o->out_dir);
    if (rename(from, to)) return tl_errf(e, "%s: cannot move into place: %s", to, strerror(errno));
    return 0;
}

int tl_prepare(const tl_bpe *bpe, const tl_prepare_opts *o, const char *const *inputs, int n_inputs,
               tl_prepare_stats *st, tl_err *e) {
    memset(st, 0, sizeof *st);
    if (!(o->val_fraction >= 0 && o->val_fraction < 1)) return tl_errf(e, "--val-fraction must be in [0, 1)");
    if (o->shard_tokens < 1 || o->shard_tokens > INT32_MAX) return tl_errf(e, "--shard-tokens must be in 1..%d", INT32_MAX);
    if (n_inputs < 1) return tl_errf(e, "no input files");
    prep p = {.bpe = bpe, .o = o, .st = st};
    tl_rng_seed(&p.rng, o->seed);
    if (tl_mkdir_p(o->out_dir, e)) return -1;
    snprintf(p.stage, sizeof p.stage, "%s/.prepare.%ld", o->out_dir, (long)getpid());
    remove_stage(p.stage);
    if (tl_mkdir_p(p.stage, e)) return -1;
    tl_progress_init(&p.prog, "prepare", "tok", 0);
    int rc = 0;
    for (int i = 0; i < n_inputs && !rc; i++) {
        if (has_suffix(inputs[i], ".csv")) {
            rc = read_csv(&p, inputs[i], e);
            continue;
        }
        FILE *f = fopen(inputs[i], "rb");
        if (!f) {
            rc = tl_errf(e, "%s: cannot open: %s", inputs[i], strerror(errno));
            break;
        }
        int jsonl = has_suffix(inputs[i], ".jsonl") || has_suffix(inputs[i], ".json");
        rc = jsonl ? read_jsonl(&p, f, inputs[i], e) : read_text(&p, f, e);
        if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error", inputs[i]);
        fclose(f);
    }
    for (int s = 0; s < 2; s++)
        if (p.out[s].open) {
            p.out[s].open = 0;
            if (rc) tl_shard_writer_abort(&p.out[s].w);
            else if (tl_shard_writer_commit(&p.out[s].w, e)) rc = -1;
            else st->shards[s]++;
        }
    for (int s = 0; s < 2; s++)
        if (p.ft[s] && fclose(p.ft[s]) != 0 && !rc) rc = tl_errf(e, "finetune_%s.jsonl: write failed", split_name[s]);
    if (!rc && st->tokens[0] == 0) rc = tl_errf(e, "%s: no text found in the inputs", inputs[0]);
    if (!rc && o->val_fraction > 0 && st->tokens[1] == 0)
        rc = tl_errf(e, "no document was drawn into val (%llu documents); give more documents or --val-fraction 0",
                     (unsigned long long)st->docs[0]);
    if (!rc) rc = write_meta(&p, e);
    if (!rc) rc = publish(&p, e);
    remove_stage(p.stage);
    tl_ivec_free(&p.ids);
    if (!rc) tl_progress_end(&p.prog, st->tokens[0] + st->tokens[1], NULL);
    return rc;
}

int tl_prepare_meta_read(const char *dir, int *vocab, char *tokenizer, size_t n, tl_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if (!tl_file_exists(path)) return 1;
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) return tl_errf(e, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    json_t *v = json_object_get(j, "vocab_size"), *t = json_object_get(j, "tokenizer");
    int rc = 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 30) || !json_is_string(t))
        rc = tl_errf(e, "%s: expected integer \"vocab_size\" and string \"tokenizer\"", path);
    else {
        *vocab = (int)json_integer_value(v);
        snprintf(tokenizer, n, "%s", json_string_value(t));
    }
    json_decref(j);
    return rc;
}
