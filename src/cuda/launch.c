/* `--gpus N`: one process per GPU, started and watched by the launching process; the ranks meet
 * through a file holding NCCL's unique id (no MPI). Host code, C11 + POSIX. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "cuda/gpt2_cuda.h"

int tl_cuda_rank_env(int *rank, int *world, const char **id_file) {
    const char *r = getenv("TL_RANK"), *w = getenv("TL_WORLD");
    if (!r || !w) return 0;
    *rank = atoi(r);
    *world = atoi(w);
    *id_file = getenv("TL_NCCL_ID");
    return 1;
}

/* prints the last lines of a rank's log to stderr */
static void show_tail(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long n = ftell(f), from = n > (long)sizeof buf - 1 ? n - (long)sizeof buf + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = 0;
    fclose(f);
    fputs(buf, stderr);
}

int tl_cuda_launch(int n_gpus, char **argv, tl_err *e) {
    if (n_gpus < 2 || n_gpus > 64) return tl_errf(e, "--gpus %d: launch 2..64 ranks (1 runs in this process)", n_gpus);
    char msg[256];
    if (!tl_cuda_available(msg, sizeof msg)) return tl_errf(e, "--gpus %d: %s", n_gpus, msg);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < n_gpus)
        return tl_errf(e, "--gpus %d: this machine has %d CUDA device%s", n_gpus, count, count == 1 ? "" : "s");
    char dir[] = "/tmp/tinyllm-ranks-XXXXXX";
    if (!mkdtemp(dir)) return tl_errf(e, "cannot create a folder in /tmp for the ranks: %s", strerror(errno));
    char idfile[128], world[16];
    snprintf(idfile, sizeof idfile, "%s/nccl_id", dir);
    snprintf(world, sizeof world, "%d", n_gpus);
    pid_t pids[64];
    int started = 0, failed = -1, status_failed = 0, have_msg = 0;
    fflush(stdout);
    fflush(stderr);
    for (int r = 0; r < n_gpus; r++) {
        pid_t p = fork();
        if (p < 0) {
            tl_errf(e, "cannot start rank %d: %s", r, strerror(errno));
            have_msg = 1;
            failed = r;
            for (int k = 0; k < started; k++) kill(pids[k], SIGTERM);
            break;
        }
        if (p == 0) {
            char rank[16], log[160];
            snprintf(rank, sizeof rank, "%d", r);
            setenv("TL_RANK", rank, 1);
            setenv("TL_WORLD", world, 1);
            setenv("TL_NCCL_ID", idfile, 1);
            setenv("NCCL_NVLS_ENABLE", "0", 0); /* NVLink multicast stays off unless asked for */
            if (r > 0) { /* rank 0 talks to the terminal; the others to their logs */
                snprintf(log, sizeof log, "%s/rank%d.log", dir, r);
                if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(127);
            }
            execv("/proc/self/exe", argv);
            fprintf(stderr, "tinyllm: rank %d: cannot run /proc/self/exe: %s\n", r, strerror(errno));
            _exit(127);
        }
        pids[started++] = p;
    }
    int left = started;
    while (left > 0) {
        int st = 0;
        pid_t p = wait(&st);
        if (p < 0) {
            if (errno == EINTR) continue;
            break;
        }
        left--;
        int r = 0;
        while (r < started && pids[r] != p) r++;
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (r < started) pids[r] = 0;
        if (!ok && failed < 0) {
            failed = r;
            status_failed = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            for (int k = 0; k < started; k++) /* stop the ranks we started that still run */
                if (pids[k] > 0) kill(pids[k], SIGTERM);
        }
    }
    int rc = 0;
    if (failed >= 0) {
        if (failed > 0) {
            char log[160];
            snprintf(log, sizeof log, "%s/rank%d.log", dir, failed);
            fprintf(stderr, "--- rank %d log ---\n", failed);
            show_tail(log);
        }
        if (!have_msg) tl_errf(e, "rank %d of %d failed (status %d)", failed, n_gpus, status_failed);
        rc = -1;
    }
    char path[200];
    for (int r = 1; r < n_gpus; r++) {
        snprintf(path, sizeof path, "%s/rank%d.log", dir, r);
        unlink(path);
    }
    unlink(idfile);
    rmdir(dir);
    return rc;
}
