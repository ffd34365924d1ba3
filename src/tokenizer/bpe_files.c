/* Tokenizer files: GPT-2's encoder.json + vocab.bpe and a trained tokenizer's folder (plus its
 * tokenizer.cfg), fed to the builder in bpe.c. The JSON is parsed by jansson. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/paths.h"
#include "tokenizer/bpe.h"

static int load_encoder(tl_bpe **out, const char *path, tl_err *e) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (!tl_file_exists(path)) return tl_errf(e, "%s: missing; run scripts/install-deps to fetch GPT-2's tokenizer files", path);
        return tl_errf(e, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    }
    int rc = 0;
    size_t n = json_object_size(root), total = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(root) || n < 256 || n > (1u << 24)) {
        rc = tl_errf(e, "%s: expected an object of 256..16M token -> id entries", path);
        goto out;
    }
    json_object_foreach(root, k, v) total += strlen(k);
    if (tl_bpe_begin(out, (int)n, total, e)) {
        rc = tl_err_wrap(e, "%s", path);
        goto out;
    }
    json_object_foreach(root, k, v) {
        if (!json_is_integer(v)) {
            char q[200];
            rc = tl_errf(e, "%s: token '%s' has an id that is not an integer", path, tl_err_quote(k, strlen(k), q));
            goto out;
        }
        if ((rc = tl_bpe_add_token(*out, json_integer_value(v), k, strlen(k), path, e))) goto out;
    }
    rc = tl_bpe_tokens_done(*out, path, e);
out:
    json_decref(root);
    return rc;
}

static int load_merges(tl_bpe *t, const char *path, tl_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return tl_errf(e, "%s: missing; run scripts/install-deps to fetch GPT-2's tokenizer files", path);
        return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    }
    char *line = NULL, where[4200];
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0 || (lineno == 1 && !strncmp(line, "#version", 8))) continue;
        snprintf(where, sizeof where, "%s:%ld", path, lineno);
        rc = tl_bpe_add_merge(t, line, (size_t)n, where, e);
    }
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error: %s", path, strerror(errno));
    if (!rc) rc = tl_bpe_merges_done(t, path, e);
    free(line);
    fclose(f);
    return rc;
}

int tl_bpe_load_gpt2(tl_bpe **out, const char *encoder_json, const char *vocab_bpe, tl_err *e) {
    *out = NULL;
    if (load_encoder(out, encoder_json, e) || load_merges(*out, vocab_bpe, e)) {
        tl_bpe_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int tl_bpe_load_gpt2_default(tl_bpe **out, tl_err *e) {
    char enc[4096], merges[4096];
    if (tl_data_path(enc, sizeof enc, "gpt2/encoder.json") || tl_data_path(merges, sizeof merges, "gpt2/vocab.bpe"))
        return tl_errf(e, "data directory path too long");
    return tl_bpe_load_gpt2(out, enc, merges, e);
}

/* tokenizer.cfg of a trained tokenizer: `key = value` lines (format, version, name, digits). */
static int load_cfg(tl_bpe *t, const char *path, tl_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return tl_errf(e, "%s: cannot open: %s (a trained tokenizer folder holds tokenizer.cfg, encoder.json, vocab.bpe)",
                           path, strerror(errno));
    char line[256], name[64] = "trained";
    int lineno = 0, rc = 0, have_format = 0, digits = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char key[64], val[128];
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0) continue;
        if (sscanf(line, " %63[a-z_] = %127[^\r\n]", key, val) != 2) rc = tl_errf(e, "%s:%d: expected 'key = value'", path, lineno);
        else if (!strcmp(key, "format")) {
            have_format = !strcmp(val, "tinyllm.bpe");
            if (!have_format) rc = tl_errf(e, "%s:%d: format '%s' is not tinyllm.bpe", path, lineno, val);
        } else if (!strcmp(key, "version")) {
            if (strcmp(val, "1")) rc = tl_errf(e, "%s:%d: version %s is not supported (this build reads 1)", path, lineno, val);
        } else if (!strcmp(key, "name")) {
            if (strlen(val) >= sizeof name || strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(val))
                rc = tl_errf(e, "%s:%d: name must be up to 63 of [a-z0-9-_.]", path, lineno);
            else snprintf(name, sizeof name, "%s", val);
        } else if (!strcmp(key, "digits")) {
            char *end;
            long d = strtol(val, &end, 10);
            if (*end || d < 0 || d > 64) rc = tl_errf(e, "%s:%d: digits must be 0..64, not '%s'", path, lineno, val);
            else digits = (int)d;
        } else if (strcmp(key, "pretokenizer") && strcmp(key, "vocab_size") && strcmp(key, "eot")) {
            rc = tl_errf(e, "%s:%d: unknown key '%s'", path, lineno, key);
        }
    }
    fclose(f);
    if (!rc && !have_format) rc = tl_errf(e, "%s: no 'format = tinyllm.bpe' line", path);
    if (!rc && tl_bpe_set_pretok(t, name, digits, e)) rc = tl_err_wrap(e, "%s", path);
    return rc;
}

int tl_bpe_load(tl_bpe **out, const char *spec, tl_err *e) {
    if (!spec || !strcmp(spec, "gpt2")) return tl_bpe_load_gpt2_default(out, e);
    char cfg[4200], enc[4200], merges[4200];
    snprintf(cfg, sizeof cfg, "%s/tokenizer.cfg", spec);
    snprintf(enc, sizeof enc, "%s/encoder.json", spec);
    snprintf(merges, sizeof merges, "%s/vocab.bpe", spec);
    if (!tl_file_exists(cfg))
        return tl_errf(e, "%s: not a tokenizer folder (no tokenizer.cfg): give 'gpt2' or a folder from 'tinyllm tokenizer train'", spec);
    if (tl_bpe_load_gpt2(out, enc, merges, e)) return -1;
    if (load_cfg(*out, cfg, e)) {
        tl_bpe_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
