/* Files: whole-file reads, read-only mappings, and atomic writes (temp file, fsync, rename).
 *
 * Every writer of an output file goes through tl_afile so that a crash, a full disk or an error
 * never leaves a half-written file under the final name. */
#ifndef TL_BASE_FILE_H
#define TL_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

/* A read-only view of a whole file (mmap; empty files give data == NULL, size == 0). */
typedef struct tl_map {
    const unsigned char *data;
    size_t size;
} tl_map;

int tl_map_open(tl_map *m, const char *path, tl_err *e);
void tl_map_close(tl_map *m);
/* Lets the whole pages of [p, p + n) (inside m) leave memory, for bytes that were copied and will
 * not be read again: the mapping stays valid, and a later read brings them back from the file. */
void tl_map_drop(const tl_map *m, const void *p, size_t n);

/* An output file being written: `f` writes to `<path>.tmp.<pid>`; commit makes it `path`. */
typedef struct tl_afile {
    FILE *f;
    char path[4096];
    char tmp[4200];
} tl_afile;

int tl_afile_open(tl_afile *a, const char *path, tl_err *e);
/* Flushes, fsyncs, renames over `path` and fsyncs the directory. On failure the temp file is
 * removed and `path` is untouched. Either way `a` is closed afterwards. */
int tl_afile_commit(tl_afile *a, tl_err *e);
/* Discards the temp file (safe to call on a closed or never-opened tl_afile). */
void tl_afile_abort(tl_afile *a);
/* fwrite that reports short writes (disk full) with the file's final name. */
int tl_afile_write(tl_afile *a, const void *p, size_t n, tl_err *e);

/* Creates a directory and its parents (like mkdir -p). */
int tl_mkdir_p(const char *path, tl_err *e);
int tl_file_exists(const char *path);

#endif
