/* Token shards: validated read-only mapping and atomic streaming writer (layout in shard.h). */
#include "data/shard.h"

#include <errno.h>
#include <string.h>

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tl_shard_open(tl_shard *s, const char *path, int vocab, tl_err *e) {
    memset(s, 0, sizeof *s);
    if (tl_map_open(&s->map, path, e)) return -1;
    const unsigned char *p = s->map.data;
    if (s->map.size < TL_SHARD_HEADER_BYTES) {
        tl_errf(e, "%s: not a token shard: %zu bytes, shorter than the 1024-byte header", path, s->map.size);
        goto fail;
    }
    if (rd32(p) != TL_SHARD_MAGIC) {
        tl_errf(e, "%s: not a token shard: magic %u, expected %u", path, rd32(p), TL_SHARD_MAGIC);
        goto fail;
    }
    s->version = (int)rd32(p + 4);
    if (s->version != 1 && s->version != 2) {
        tl_errf(e, "%s: unsupported shard version %d (expected 1 or 2)", path, s->version);
        goto fail;
    }
    s->n_tokens = rd32(p + 8);
    uint64_t width = s->version == 1 ? 2 : 4;
    uint64_t want = TL_SHARD_HEADER_BYTES + s->n_tokens * width;
    if (want != s->map.size) {
        tl_errf(e, "%s: header says %llu tokens (%llu bytes) but the file has %zu bytes (truncated or corrupt)", path,
                (unsigned long long)s->n_tokens, (unsigned long long)want, s->map.size);
        goto fail;
    }
    s->tokens = p + TL_SHARD_HEADER_BYTES;
    if (vocab > 0)
        for (uint64_t i = 0; i < s->n_tokens; i++) {
            uint32_t t = tl_shard_get(s, i);
            if (t >= (uint32_t)vocab) {
                tl_errf(e, "%s: token %llu is id %u, outside the vocabulary of %d", path, (unsigned long long)i, t, vocab);
                goto fail;
            }
        }
    return 0;
fail:
    tl_shard_close(s);
    return -1;
}

void tl_shard_close(tl_shard *s) {
    tl_map_close(&s->map);
    s->tokens = NULL;
    s->n_tokens = 0;
}

int tl_shard_writer_open(tl_shard_writer *w, const char *path, int vocab, tl_err *e) {
    w->version = vocab <= 65536 ? 1 : 2;
    w->n_tokens = 0;
    if (tl_afile_open(&w->af, path, e)) return -1;
    unsigned char header[TL_SHARD_HEADER_BYTES] = {0}; /* the count is filled in on commit */
    if (tl_afile_write(&w->af, header, sizeof header, e)) {
        tl_afile_abort(&w->af);
        return -1;
    }
    return 0;
}

int tl_shard_writer_push(tl_shard_writer *w, const int32_t *ids, size_t n, tl_err *e) {
    unsigned char buf[4096];
    size_t width = w->version == 1 ? 2 : 4, per = sizeof buf / width;
    if (w->n_tokens + n > INT32_MAX) return tl_errf(e, "%s: a shard holds at most %d tokens", w->af.path, INT32_MAX);
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        for (size_t j = 0; j < m; j++) {
            uint32_t t = (uint32_t)ids[i + j];
            buf[j * width] = (unsigned char)t;
            buf[j * width + 1] = (unsigned char)(t >> 8);
            if (width == 4) {
                buf[j * width + 2] = (unsigned char)(t >> 16);
                buf[j * width + 3] = (unsigned char)(t >> 24);
            }
        }
        if (tl_afile_write(&w->af, buf, m * width, e)) return -1;
    }
    w->n_tokens += n;
    return 0;
}

int tl_shard_writer_commit(tl_shard_writer *w, tl_err *e) {
    unsigned char h[12];
    uint32_t v[3] = {TL_SHARD_MAGIC, (uint32_t)w->version, (uint32_t)w->n_tokens};
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 4; b++) h[4 * i + b] = (unsigned char)(v[i] >> (8 * b));
    if (fseek(w->af.f, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->af.f) != sizeof h) {
        tl_errf(e, "%s: write failed: %s", w->af.path, strerror(errno));
        tl_afile_abort(&w->af);
        return -1;
    }
    return tl_afile_commit(&w->af, e);
}

void tl_shard_writer_abort(tl_shard_writer *w) { tl_afile_abort(&w->af); }
