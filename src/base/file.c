/* Files: read-only mappings, atomic output files and directory helpers. */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int tl_map_open(tl_map *m, const char *path, tl_err *e) {
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tl_errf(e, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return tl_errf(e, "%s: cannot map: %s", path, strerror(errno));
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void tl_map_close(tl_map *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

void tl_map_drop(const tl_map *m, const void *p, size_t n) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)p + page - 1) / page * page, hi = ((uintptr_t)p + n) / page * page;
    if (m->data && hi > lo && lo >= (uintptr_t)m->data && hi <= (uintptr_t)m->data + m->size)
        madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice only: on failure the pages just stay */
}

int tl_afile_open(tl_afile *a, const char *path, tl_err *e) {
    a->f = NULL;
    if (strlen(path) >= sizeof a->path) return tl_errf(e, "%s: path too long", path);
    memcpy(a->path, path, strlen(path) + 1);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) return tl_errf(e, "%s: cannot create: %s", path, strerror(errno));
    return 0;
}

int tl_afile_write(tl_afile *a, const void *p, size_t n, tl_err *e) {
    if (n && fwrite(p, 1, n, a->f) != n)
        return tl_errf(e, "%s: write failed: %s", a->path, strerror(errno));
    return 0;
}

static void fsync_dir_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int tl_afile_commit(tl_afile *a, tl_err *e) {
    if (!a->f) return tl_errf(e, "%s: not open", a->path);
    int bad = fflush(a->f) != 0 || ferror(a->f) || fsync(fileno(a->f)) != 0;
    int err = errno;
    if (fclose(a->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    a->f = NULL;
    if (bad) {
        unlink(a->tmp);
        return tl_errf(e, "%s: write failed: %s", a->path, strerror(err));
    }
    if (rename(a->tmp, a->path) != 0) {
        err = errno;
        unlink(a->tmp);
        return tl_errf(e, "%s: cannot rename into place: %s", a->path, strerror(err));
    }
    fsync_dir_of(a->path);
    return 0;
}

void tl_afile_abort(tl_afile *a) {
    if (a->f) {
        fclose(a->f);
        a->f = NULL;
        unlink(a->tmp);
    }
}

int tl_mkdir_p(const char *path, tl_err *e) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return tl_errf(e, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return tl_errf(e, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return tl_errf(e, "%s: cannot create directory: %s", buf, strerror(errno));
    return 0;
}

int tl_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
