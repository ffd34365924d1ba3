/* prepare: reads documents from sources, tokenizes them on several threads, mixes the sources by
 * token ratio and writes train/val shards (the contract is in prepare.h). */
#include "data/prepare.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/pool.h"
#include "base/rng.h"
#include "data/shard.h"
#include "data/taskcsv.h"

/* A document longer than this is tokenized in pieces, cut only after a lone '\n' between two
 * non-space ASCII bytes: GPT-2's pre-tokenizer gives the same tokens on both sides of such a cut. */
#define TL_DOC_CHUNK (64u << 10)
/* Read-ahead: each source reads batches of up to BATCH_PIECES pieces / BATCH_BYTES of text, one
 * batch ahead of the one being written, tokenized by the pool meanwhile. Batch boundaries do not
 * depend on the thread count, so neither does anything else. */
#define BATCH_PIECES 4096
#define BATCH_BYTES (2u << 20)

/* A unit of tokenizer work: a whole document or a chunk of one. A task row (CSV) has its prompt in
 * [0, split) and its response in [split, len), tokenized separately as fine-tuning sees them. */
typedef struct piece {
    uint64_t doc; /* the document's index in its source's pass */
    int begins, task, bad;
    size_t off, len, split; /* into the batch's text */
    tl_ivec ids;
} piece;

typedef struct batch {
    piece pc[BATCH_PIECES];
    int n, head;
    int ready;   /* tokenized and checked: pieces [head, n) wait to be written */
    int rc;      /* -1: reading this batch failed, err says why */
    tl_err err;
    tl_buf text;
    tl_job job;
    const tl_bpe *bpe;
} batch;

typedef enum { IN_TEXT, IN_JSONL, IN_CSV } in_kind;

typedef struct source {
    const tl_prepare_source *def;
    uint64_t name_hash;
    char **files;
    int n_files;
    /* reading: the open file, its position, the document being assembled */
    int file, open, pass, failed;
    in_kind kind;
    const char *path;
    FILE *fp;
    tl_task_csv *csv;
    char *line;
    size_t cap;
    long lineno;
    tl_buf doc;
    int in_doc, doc_first;
    uint64_t next_doc;
    batch *fill;       /* the batch being read into */
    batch b[2];        /* b[cur] is being written, b[!cur] is the read-ahead */
    int cur;
} source;

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
    int which; /* split of the document being written */
    tl_progress prog;
    FILE *ft[2]; /* finetune_{train,val}.jsonl in the stage, opened on the first task row */
    tl_pool *pool;
} prep;

static const char *split_name[2] = {"train", "val"};

/* ---- output: shards, fine-tuning files ---- */

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

static int write_finetune(prep *p, const char *prompt, size_t np, const char *resp, size_t nr, tl_err *e) {
    if (!p->ft[p->which]) {
        char path[4200];
        snprintf(path, sizeof path, "%s/finetune_%s.jsonl", p->stage, split_name[p->which]);
        if (!(p->ft[p->which] = fopen(path, "w"))) return tl_errf(e, "%s: cannot create: %s", path, strerror(errno));
    }
    json_t *j = json_pack("{s:s%, s:s%}", "prompt", prompt, np, "response", resp, nr);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int bad = !s || fprintf(p->ft[p->which], "%s\n", s) < 0;
    free(s);
    json_decref(j);
    return bad ? tl_errf(e, "finetune_%s.jsonl: write failed", split_name[p->which]) : 0;
}

/* The split of document `doc` of source `s`: a hash of (seed, source name, index), so the draw
 * depends on nothing else (not the mix, the threads or the pass). */
static int doc_split(const prep *p, const source *s, uint64_t doc) {
    tl_rng r;
    tl_rng_seed(&r, p->o->seed ^ s->name_hash ^ (doc * 0xd1b54a32d192ed03ULL));
    return tl_rng_f32(&r) < p->o->val_fraction;
}

/* ---- reading: files -> pieces in the source's arena ---- */

static int add_piece(source *s, int begins, int task, const char *a, size_t na, const char *b, size_t nb, tl_err *e) {
    batch *bt = s->fill;
    piece *pc = &bt->pc[bt->n];
    pc->off = bt->text.n;
    if (tl_buf_append(&bt->text, a, na, e) || tl_buf_append(&bt->text, b, nb, e)) return -1;
    pc->len = na + nb;
    pc->split = na;
    pc->task = task;
    pc->begins = begins;
    pc->doc = begins ? s->next_doc++ : s->next_doc - 1;
    bt->n++;
    return 1;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int safe_cut(const char *b, size_t n) { /* b[n-1] == '\n' with non-space ASCII around it */
    return n >= 2 && b[n - 1] == '\n' && (unsigned char)b[n - 2] > ' ' && (unsigned char)b[n - 2] < 0x80;
}

/* Plain text: documents per tl_doc_split; a paragraph's trailing newline is not part of it. */
static int next_text(const prep *p, source *s, tl_err *e) {
    tl_doc_split mode = p->o->split;
    for (;;) {
        ssize_t n = getline(&s->line, &s->cap, s->fp);
        int end = n <= 0, blank = !end && is_blank(s->line, (size_t)n);
        int close = end || (mode == TL_DOCS_PARAGRAPH && blank) || mode == TL_DOCS_LINE;
        if (!end && !(blank && mode != TL_DOCS_FILE)) {
            if (!s->in_doc) s->in_doc = s->doc_first = 1;
            if (s->doc.n >= TL_DOC_CHUNK && safe_cut(s->doc.p, s->doc.n) && (unsigned char)s->line[0] > ' ' &&
                (unsigned char)s->line[0] < 0x80) { /* hand out the chunk, keep the line for the rest */
                int r = add_piece(s, s->doc_first, 0, s->doc.p, s->doc.n, "", 0, e);
                s->doc_first = 0;
                s->doc.n = 0;
                return r < 0 || tl_buf_append(&s->doc, s->line, (size_t)n, e) ? -1 : 1;
            }
            if (tl_buf_append(&s->doc, s->line, (size_t)n, e)) return -1;
        }
        if (close && s->in_doc) {
            size_t len = s->doc.n;
            if (mode != TL_DOCS_FILE)
                while (len > 0 && (s->doc.p[len - 1] == '\n' || s->doc.p[len - 1] == '\r')) len--;
            s->in_doc = 0;
            s->doc.n = 0;
            return add_piece(s, s->doc_first, 0, s->doc.p, len, "", 0, e);
        }
        if (end) return ferror(s->fp) ? tl_errf(e, "%s: read error", s->path) : 0;
    }
}

static int next_jsonl(const prep *p, source *s, tl_err *e) {
    ssize_t n;
    while ((n = getline(&s->line, &s->cap, s->fp)) > 0) {
        s->lineno++;
        if (is_blank(s->line, (size_t)n)) continue;
        json_error_t je;
        json_t *j = json_loadb(s->line, (size_t)n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        json_t *t = json_is_object(j) ? json_object_get(j, p->o->field) : NULL;
        int rc;
        if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", s->path, s->lineno, je.text);
        else if (!json_is_object(j)) rc = tl_errf(e, "%s:%ld: expected a JSON object", s->path, s->lineno);
        else if (!json_is_string(t)) rc = tl_errf(e, "%s:%ld: no string field \"%s\"", s->path, s->lineno, p->o->field);
        else rc = add_piece(s, 1, 0, json_string_value(t), json_string_length(t), "", 0, e);
        json_decref(j);
        return rc;
    }
    return ferror(s->fp) ? tl_errf(e, "%s: read error", s->path) : 0;
}

/* CSV task rows: one rendered document per record. */
static int next_csv(source *s, tl_err *e) {
    tl_task_row r;
    int got = tl_task_csv_next(s->csv, &r, e);
    if (got <= 0) return got;
    return add_piece(s, 1, 1, r.prompt->p, r.prompt->n, r.response->p, r.response->n, e);
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static void close_file(source *s) {
    if (s->fp) fclose(s->fp);
    tl_task_csv_close(s->csv);
    s->fp = NULL;
    s->csv = NULL;
    s->open = 0;
}

static int open_file(const prep *p, source *s, tl_err *e) {
    s->path = s->files[s->file];
    s->lineno = 0;
    s->in_doc = 0;
    s->doc.n = 0;
    if (has_suffix(s->path, ".csv")) {
        if (!p->o->task) return tl_errf(e, "%s: CSV input needs a task spec (--task FILE; see tasks/)", s->path);
        s->kind = IN_CSV;
        if (tl_task_csv_open(&s->csv, s->path, p->o->task, e)) return -1;
    } else {
        s->kind = has_suffix(s->path, ".jsonl") || has_suffix(s->path, ".json") ? IN_JSONL : IN_TEXT;
        if (!(s->fp = fopen(s->path, "rb"))) return tl_errf(e, "%s: cannot open: %s", s->path, strerror(errno));
    }
    s->open = 1;
    return 0;
}

/* Reads the source's next piece into its read-ahead: 1, 0 at the end of this pass, -1 on error. */
static int read_piece(const prep *p, source *s, tl_err *e) {
    if (s->failed) return tl_errf(e, "source '%s': reading stopped at an earlier error", s->def->name);
    while (s->file < s->n_files) {
        if (!s->open && open_file(p, s, e)) {
            s->failed = 1;
            return -1;
        }
        int r = s->kind == IN_CSV ? next_csv(s, e) : s->kind == IN_JSONL ? next_jsonl(p, s, e) : next_text(p, s, e);
        if (r < 0) s->failed = 1;
        if (r) return r;
        close_file(s);
        s->file++;
    }
    return 0;
}

static void tokenize_piece(void *ctx, int i) {
    batch *b = ctx;
    piece *pc = &b->pc[i];
    const char *t = b->text.p + pc->off;
    pc->ids.n = 0;
    pc->bad = tl_bpe_encode(b->bpe, t, pc->split, &pc->ids, NULL) ||
              tl_bpe_encode(b->bpe, t + pc->split, pc->len - pc->split, &pc->ids, NULL);
}

/* Reads the source's next batch into b and hands it to the pool; errors wait in b->err until the
 * batch's turn comes. */
static void fill(prep *p, source *s, batch *b) {
    b->n = b->head = b->ready = b->rc = 0;
    b->text.n = 0;
    b->bpe = p->bpe;
    s->fill = b;
    int r = 0;
    while (b->n < BATCH_PIECES && b->text.n < BATCH_BYTES && (r = read_piece(p, s, &b->err)) > 0) {}
    b->rc = r < 0 ? -1 : 0;
    b->job = (tl_job){.fn = tokenize_piece, .ctx = b, .n = b->n};
    tl_pool_submit(p->pool, &b->job);
}

/* Waits for b's tokens; reports the batch's read error or its first tokenizer failure. */
static int finish(prep *p, batch *b, const char *name, tl_err *e) {
    tl_pool_wait(p->pool, &b->job);
    b->ready = 1;
    if (b->rc) {
        *e = b->err;
        return -1;
    }
    for (int i = 0; i < b->n; i++)
        if (b->pc[i].bad) { /* tokenize it again here for the message */
            tl_ivec scratch = {0};
            tl_bpe_encode(p->bpe, b->text.p + b->pc[i].off, b->pc[i].len, &scratch, e);
            tl_ivec_free(&scratch);
            return tl_err_wrap(e, "%s", name);
        }
    return 0;
}

/* Starts a pass over the source: reading state reset, both batches read and submitted. */
static void start_pass(prep *p, source *s) {
    for (int i = 0; i < 2; i++) tl_pool_wait(p->pool, &s->b[i].job);
    close_file(s);
    s->file = 0;
    s->next_doc = 0;
    s->cur = 0;
    fill(p, s, &s->b[0]);
    fill(p, s, &s->b[1]);
}

/* The next piece of the source, in order; NULL at the end of the pass, or on an error (*rc = -1).
 * A written-out batch is refilled (behind the other one) before the other is waited for. */
static piece *peek(prep *p, source *s, int *rc, tl_err *e) {
    for (;;) {
        batch *c = &s->b[s->cur];
        if (!c->ready && finish(p, c, s->def->name, e)) {
            *rc = -1;
            return NULL;
        }
        if (c->head < c->n) return &c->pc[c->head];
        if (c->n == 0) return NULL; /* only the end of a pass gives an empty batch */
        fill(p, s, c);
        s->cur ^= 1;
    }
}

/* Writes one whole document (all its pieces) of source `si`. */
static int write_doc(prep *p, source *s, int si, tl_err *e) {
    tl_prepare_src_stats *ss = &p->st->src[si];
    int rc = 0;
    batch *b = &s->b[s->cur];
    piece *pc = &b->pc[b->head];
    p->which = doc_split(p, s, pc->doc);
    p->st->docs[p->which]++;
    ss->docs[p->which]++;
    int32_t eot = tl_bpe_eot(p->bpe);
    uint64_t before = p->st->tokens[p->which];
    if (emit_tokens(p, &eot, 1, e)) return -1;
    do {
        b = &s->b[s->cur];
        const char *t = b->text.p + pc->off;
        if (emit_tokens(p, pc->ids.v, pc->ids.n, e)) return -1;
        if (pc->task && s->pass == 0 && write_finetune(p, t, pc->split, t + pc->split, pc->len - pc->split, e)) return -1;
        p->st->bytes += pc->len;
        ss->bytes += pc->len;
        b->head++;
    } while ((pc = peek(p, s, &rc, e)) && !pc->begins);
    ss->tokens[p->which] += p->st->tokens[p->which] - before;
    return rc;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Expands the source's paths: a folder stands for its regular files (not dot-files), sorted. */
static int expand_paths(source *s, tl_err *e) {
    for (int i = 0; i < s->def->n_paths; i++) {
        const char *path = s->def->paths[i];
        struct stat sb;
        int first = s->n_files;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(path);
            if (!d) return tl_errf(e, "%s: cannot open folder: %s", path, strerror(errno));
            struct dirent *de;
            while ((de = readdir(d))) {
                char full[4200];
                snprintf(full, sizeof full, "%s/%s", path, de->d_name);
                struct stat fs;
                if (de->d_name[0] == '.' || stat(full, &fs) || !S_ISREG(fs.st_mode)) continue;
                char **f = realloc(s->files, sizeof *f * (size_t)(s->n_files + 1));
                if (!f || !(f[s->n_files] = strdup(full))) {
                    if (f) s->files = f;
                    closedir(d);
                    return tl_errf(e, "%s: out of memory", path);
                }
                s->files = f;
                s->n_files++;
            }
            closedir(d);
            if (s->n_files == first) return tl_errf(e, "%s: folder has no files", path);
            qsort(s->files + first, (size_t)(s->n_files - first), sizeof *s->files, cmp_str);
        } else {
            char **f = realloc(s->files, sizeof *f * (size_t)(s->n_files + 1));
            if (!f || !(f[s->n_files] = strdup(path))) {
                if (f) s->files = f;
                return tl_errf(e, "%s: out of memory", path);
            }
            s->files = f;
            s->n_files++;
        }
    }
    return 0;
}

static void source_free(prep *p, source *s) {
    for (int i = 0; i < 2; i++) {
        if (p->pool) tl_pool_wait(p->pool, &s->b[i].job);
        tl_buf_free(&s->b[i].text);
        for (int j = 0; j < BATCH_PIECES; j++) tl_ivec_free(&s->b[i].pc[j].ids);
    }
    close_file(s);
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    free(s->line);
    tl_buf_free(&s->doc);
    free(s);
}

/* The mixer: documents from the source furthest below its share, until the token target or, with
 * no target, until a source runs out. */
static int mix(prep *p, source **src, int n_src, tl_err *e) {
    uint64_t max = p->o->max_tokens;
    for (;;) {
        uint64_t total = p->st->tokens[0] + p->st->tokens[1];
        if (max && total >= max) return 0;
        int best = 0;
        double best_def = -INFINITY;
        for (int i = 0; i < n_src; i++) {
            const tl_prepare_src_stats *ss = &p->st->src[i];
            double def = src[i]->def->ratio * (double)total - (double)(ss->tokens[0] + ss->tokens[1]);
            if (def > best_def) best_def = def, best = i;
        }
        source *s = src[best];
        int rc = 0;
        piece *pc = peek(p, s, &rc, e);
        if (rc) return -1;
        if (!pc) {
            if (s->next_doc == 0)
                return s->def->n_paths == 1 ? tl_errf(e, "%s: no text found in it (source '%s')", s->def->paths[0], s->def->name)
                                            : tl_errf(e, "source '%s': no text found in its inputs", s->def->name);
            if (!max) return 0;
            start_pass(p, s);
            s->pass++;
            p->st->src[best].repeats++;
            continue;
        }
        if (write_doc(p, s, best, e)) return -1;
        tl_progress_update(&p->prog, p->st->tokens[0] + p->st->tokens[1], NULL);
    }
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

static int write_meta(prep *p, source **src, int n_src, tl_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", p->stage);
    const tl_prepare_stats *st = p->st;
    json_t *sources = json_array();
    for (int i = 0; i < n_src && sources; i++) {
        const tl_prepare_src_stats *ss = &st->src[i];
        json_array_append_new(sources, json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:i}", "name", src[i]->def->name,
                                                 "ratio", src[i]->def->ratio, "bytes", (json_int_t)ss->bytes,
                                                 "train_tokens", (json_int_t)ss->tokens[0], "val_tokens",
                                                 (json_int_t)ss->tokens[1], "train_docs", (json_int_t)ss->docs[0],
                                                 "val_docs", (json_int_t)ss->docs[1], "repeats", ss->repeats));
    }
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:f, s:o}", "tokenizer",
                          p->o->tokenizer_name, "tokenizer_spec", p->o->tokenizer_spec ? p->o->tokenizer_spec : "gpt2", "vocab_size", tl_bpe_vocab_size(p->bpe), "eot", tl_bpe_eot(p->bpe),
                          "train_tokens", (json_int_t)st->tokens[0], "val_tokens", (json_int_t)st->tokens[1],
                          "train_docs", (json_int_t)st->docs[0], "val_docs", (json_int_t)st->docs[1], "train_shards",
                          st->shards[0], "val_shards", st->shards[1], "seed", (json_int_t)p->o->seed, "val_fraction",
                          (double)p->o->val_fraction, "sources", sources);
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

static int check_sources(const tl_prepare_source *sources, int n, tl_err *e) {
    if (n < 1) return tl_errf(e, "no input files");
    if (n > TL_PREPARE_MAX_SOURCES) return tl_errf(e, "%d sources: at most %d can be mixed", n, TL_PREPARE_MAX_SOURCES);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!(sources[i].ratio > 0 && sources[i].ratio <= 1))
            return tl_errf(e, "source '%s': ratio %g must be in (0, 1]", sources[i].name, sources[i].ratio);
        if (sources[i].n_paths < 1) return tl_errf(e, "source '%s': no files", sources[i].name);
        for (int j = 0; j < i; j++)
            if (!strcmp(sources[i].name, sources[j].name)) return tl_errf(e, "source '%s' is given twice", sources[i].name);
        sum += sources[i].ratio;
    }
    if (fabs(sum - 1) > 1e-3) return tl_errf(e, "--mix: the mixing ratios sum to %g, not 1", sum);
    return 0;
}

int tl_prepare(const tl_bpe *bpe, const tl_prepare_opts *o, const tl_prepare_source *sources, int n_sources,
               tl_prepare_stats *st, tl_err *e) {
    memset(st, 0, sizeof *st);
    if (!(o->val_fraction >= 0 && o->val_fraction < 1)) return tl_errf(e, "--val-fraction must be in [0, 1)");
    if (o->shard_tokens < 1 || o->shard_tokens > INT32_MAX) return tl_errf(e, "--shard-tokens must be in 1..%d", INT32_MAX);
    if (o->threads < 1 || o->threads > 1024) return tl_errf(e, "--threads must be in 1..1024");
    if (check_sources(sources, n_sources, e)) return -1;
    prep p = {.bpe = bpe, .o = o, .st = st};
    source *src[TL_PREPARE_MAX_SOURCES] = {0};
    int rc = 0;
    for (int i = 0; i < n_sources && !rc; i++) {
        if (!(src[i] = tl_calloc(1, sizeof *src[i], e))) rc = -1;
        else {
            src[i]->def = &sources[i];
            src[i]->name_hash = fnv1a(sources[i].name);
            rc = expand_paths(src[i], e);
        }
    }
    if (!rc && tl_pool_init(&p.pool, o->threads - 1, e)) rc = -1;
    int out_existed = tl_file_exists(o->out_dir);
    if (!rc && tl_mkdir_p(o->out_dir, e)) rc = -1;
    if (!rc) {
        snprintf(p.stage, sizeof p.stage, "%s/.prepare.%ld", o->out_dir, (long)getpid());
        remove_stage(p.stage);
        rc = tl_mkdir_p(p.stage, e);
    }
    if (!rc) {
        tl_progress_init(&p.prog, "prepare", "tok", o->max_tokens);
        for (int i = 0; i < n_sources; i++) start_pass(&p, src[i]);
        rc = mix(&p, src, n_sources, e);
        for (int s = 0; s < 2; s++)
            if (p.out[s].open) {
                p.out[s].open = 0;
                if (rc) tl_shard_writer_abort(&p.out[s].w);
                else if (tl_shard_writer_commit(&p.out[s].w, e)) rc = -1;
                else st->shards[s]++;
            }
        for (int s = 0; s < 2; s++)
            if (p.ft[s] && fclose(p.ft[s]) != 0 && !rc) rc = tl_errf(e, "finetune_%s.jsonl: write failed", split_name[s]);
        if (!rc && st->tokens[0] == 0) rc = tl_errf(e, "no text found in the inputs");
        if (!rc && o->val_fraction > 0 && st->tokens[1] == 0)
            rc = tl_errf(e, "no document was drawn into val (%llu documents); give more documents or --val-fraction 0",
                         (unsigned long long)st->docs[0]);
        if (!rc) rc = write_meta(&p, src, n_sources, e);
        if (!rc) rc = publish(&p, e);
        remove_stage(p.stage);
        if (!rc) tl_progress_end(&p.prog, st->tokens[0] + st->tokens[1], NULL);
    }
    if (rc && !out_existed) rmdir(o->out_dir); /* the folder made above, if still empty: a failed run leaves nothing */
    for (int i = 0; i < n_sources; i++)
        if (src[i]) source_free(&p, src[i]);
    tl_pool_free(p.pool);
    return rc;
}

int tl_prepare_meta_read(const char *dir, int *vocab, char *tokenizer, size_t n, char *spec, size_t ns, tl_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if (!tl_file_exists(path)) return 1;
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) return tl_errf(e, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    json_t *v = json_object_get(j, "vocab_size"), *t = json_object_get(j, "tokenizer");
    int rc = 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1 << 24) || !json_is_string(t)) /* gpt2.c's bound */
        rc = tl_errf(e, "%s: expected integer \"vocab_size\" (1..16777216) and string \"tokenizer\"", path);
    else {
        *vocab = (int)json_integer_value(v);
        snprintf(tokenizer, n, "%s", json_string_value(t));
        json_t *sp = json_object_get(j, "tokenizer_spec");
        if (spec) snprintf(spec, ns, "%s", json_is_string(sp) ? json_string_value(sp) : json_string_value(t));
    }
    json_decref(j);
    return rc;
}
