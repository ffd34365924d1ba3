/* Fuzz harness helpers: scratch files on tmpfs, multi-file inputs, fixtures (contracts in common.h). */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

int tl_fuzz_split(const uint8_t *data, size_t size, tl_fuzz_part *parts, int max) {
    const size_t sn = sizeof TL_FUZZ_SEP - 1;
    int k = 0;
    size_t start = 0;
    while (k < max - 1) {
        const uint8_t *hit = size - start >= sn ? memmem(data + start, size - start, TL_FUZZ_SEP, sn) : NULL;
        if (!hit) break;
        size_t at = (size_t)(hit - data);
        parts[k++] = (tl_fuzz_part){data + start, at - start};
        start = at + sn;
    }
    parts[k++] = (tl_fuzz_part){size ? data + start : data, size - start};
    return k;
}

static char scratch[256];

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void remove_scratch(void) {
    if (scratch[0]) remove_tree(scratch);
}

const char *tl_fuzz_dir(void) {
    if (scratch[0]) return scratch;
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : tmp && *tmp                                                                    ? tmp
                                                                                                        : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/tl-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "fuzz: cannot create a scratch folder in %s: %s\n", base, strerror(errno));
        exit(1);
    }
    atexit(remove_scratch);
    return scratch;
}

enum { MAX_NAMES = 32 };
static struct {
    char name[64];
    char path[512];
} names[MAX_NAMES];

const char *tl_fuzz_path(const char *name) {
    int i;
    for (i = 0; i < MAX_NAMES && names[i].name[0]; i++)
        if (!strcmp(names[i].name, name)) return names[i].path;
    if (i == MAX_NAMES || strlen(name) >= sizeof names[i].name) {
        fprintf(stderr, "fuzz: too many or too long scratch names (%s)\n", name);
        abort();
    }
    snprintf(names[i].name, sizeof names[i].name, "%s", name);
    snprintf(names[i].path, sizeof names[i].path, "%s/%s", tl_fuzz_dir(), name);
    const char *slash = strchr(name, '/');
    if (slash) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%.*s", tl_fuzz_dir(), (int)(slash - name), name);
        if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "fuzz: cannot create %s: %s\n", sub, strerror(errno));
            abort();
        }
    }
    return names[i].path;
}

const char *tl_fuzz_file(const char *name, const void *data, size_t n) {
    const char *path = tl_fuzz_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)data + off, n - off);
        if (w <= 0) {
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

void tl_fuzz_unlink(const char *name) { unlink(tl_fuzz_path(name)); }

const tl_bpe *tl_fuzz_tiny_bpe(void) {
    static tl_bpe *t;
    if (!t) {
        tl_err e;
        if (tl_bpe_load(&t, TL_FUZZ_DATA "/tok", &e)) {
            fprintf(stderr, "fuzz: the fixture tokenizer: %s\n", e.msg);
            exit(1);
        }
    }
    return t;
}

const tl_bpe *tl_fuzz_gpt2_bpe(void) {
    static tl_bpe *t;
    if (!t) {
        tl_err e;
        if (tl_bpe_load_gpt2_default(&t, &e)) {
            fprintf(stderr, "fuzz: skipped, GPT-2's tokenizer is needed: %s\n", e.msg);
            exit(77);
        }
    }
    return t;
}

void tl_fuzz_base_config(tl_gpt2_config *c) { *c = (tl_gpt2_config){1, 1, 4, 4, 1, 1}; }

const tl_gpt2 *tl_fuzz_base_model(void) {
    static tl_gpt2 m;
    static int ready;
    if (!ready) {
        tl_gpt2_config c;
        tl_err e;
        tl_fuzz_base_config(&c);
        if (tl_gpt2_init(&m, &c, &e)) {
            fprintf(stderr, "fuzz: the fixture model: %s\n", e.msg);
            exit(1);
        }
        tl_gpt2_init_weights(&m, 1);
        ready = 1;
    }
    return &m;
}

volatile unsigned tl_fuzz_sink;

void tl_fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *q = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += q[i];
    tl_fuzz_sink += s;
}

int tl_fuzz_reject(const tl_err *e) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("TL_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "  rejected: %s\n", e->msg);
    return 0;
}
