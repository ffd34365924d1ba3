/* `tinyllm synth`: synthetic sensor data as task CSV rows or pre-training text documents. */
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "tasks/synth.h"

int tl_cmd_synth(int argc, char **argv) {
    const char *out = "-", *format = "csv", *places = NULL;
    long long rows = 100, seed = 1;
    float hz = 0, seconds = 0, rate_min = 0, rate_max = 0, noise = 1;
    int cycles = 0;
    tl_opt opts[] = {
        {"rows", 'n', TL_OPT_I64, &rows, "samples to generate (k/M suffixes)"},
        {"seed", 's', TL_OPT_I64, &seed, "seed: the same options and seed give the same bytes"},
        {"out", 'o', TL_OPT_STR, &out, "output file (written atomically), or - for stdout"},
        {"format", 'f', TL_OPT_STR, &format, "csv (the reference task's columns) or text (pre-training documents)"},
        {"hz", 0, TL_OPT_FLOAT, &hz, "imu, breathing: sampling rate in Hz; 0: imu 10, breathing 31.8"},
        {"seconds", 0, TL_OPT_FLOAT, &seconds, "imu, breathing: window length in s; 0: imu 2.5, breathing 15"},
        {"rate-min", 0, TL_OPT_FLOAT, &rate_min, "breathing: lowest rate drawn, breaths per minute; 0: 8"},
        {"rate-max", 0, TL_OPT_FLOAT, &rate_max, "breathing: highest rate drawn; 0: 20"},
        {"cycles-per-breath", 0, TL_OPT_INT, &cycles,
         "breathing: chest cycles per labelled breath, 1 or 2 (2: as in the breathe/ rows, docs/synth.md); 0: 1"},
        {"places", 0, TL_OPT_STR, &places,
         "environment: comma-separated place names (default: Charging Station,Entrance,Server Rack)"},
        {"noise", 0, TL_OPT_FLOAT, &noise, "scale of every noise term (1: the documented levels)"},
    };
    tl_cmd cmd = {"synth", "tinyllm synth imu|environment|gesture|breathing [options]",
                  "Generates seeded synthetic sensor samples (models and parameters: docs/synth.md), classes\n"
                  "balanced. CSV output has the columns of the matching reference task, so `prepare --task` reads it\n"
                  "unchanged: environment -> tasks/localisation.task, gesture -> tasks/gesture.task, breathing ->\n"
                  "tasks/breathe.task, imu -> tasks/activity.task. Text output writes one document per sample (a\n"
                  "line naming the sensor, the readings, the label line), blank-line separated, for prepare --mix.\n\n"
                  "example: tinyllm synth breathing --rows 500 --seed 7 -o breathing.csv\n"
                  "         tinyllm synth imu --rows 20000 --format text -o imu.txt\n"
                  "         tinyllm synth environment --places \"Charging Station,Entrance,Server Rack,Kitchen\" -o env.csv",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[2];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 2, &npos);
    if (r >= 0) return r;
    tl_err e;
    int kind = npos == 1 ? tl_synth_kind_parse(pos[0]) : -1, text = !strcmp(format, "text");
    if (kind < 0) {
        if (npos > 1) tl_errf(&e, "synth: give one generator, not '%s' and '%s'", pos[0], pos[1]);
        else if (npos == 1) tl_errf(&e, "synth: give a generator: imu, environment, gesture or breathing, not '%s'", pos[0]);
        else tl_errf(&e, "synth: give a generator: imu, environment, gesture or breathing (see 'tinyllm synth --help')");
        return tl_cli_fail(&e);
    }
    if (!text && strcmp(format, "csv")) {
        tl_errf(&e, "--format must be csv or text, not '%s'", format);
        return tl_cli_fail(&e);
    }
    if (rows < 1) {
        tl_errf(&e, "--rows must be >= 1, not %lld", rows);
        return tl_cli_fail(&e);
    }
    if (!(noise > 0)) {
        tl_errf(&e, "--noise must be > 0 (e.g. 0.01 for almost none), not %g", (double)noise);
        return tl_cli_fail(&e);
    }
    tl_synth_opts so = {.kind = (tl_synth_kind)kind, .hz = hz, .seconds = seconds, .rate_min = rate_min,
                        .rate_max = rate_max, .cycles_per_breath = cycles, .noise = noise, .places = places};
    tl_synth s;
    if (tl_synth_init(&s, &so, (uint64_t)seed, &e)) return tl_cli_fail(&e);
    /* show the resolved kind defaults in the settings printout */
    if (kind == TL_SYNTH_IMU || kind == TL_SYNTH_BREATHING) hz = (float)s.o.hz, seconds = (float)s.o.seconds;
    if (kind == TL_SYNTH_BREATHING) rate_min = (float)s.o.rate_min, rate_max = (float)s.o.rate_max, cycles = s.o.cycles_per_breath;
    tl_opts_print(&cmd, stderr);

    tl_afile af;
    int to_stdout = !strcmp(out, "-"), rc = 0;
    if (!to_stdout && tl_afile_open(&af, out, &e)) return tl_cli_fail(&e);
    tl_buf buf = {0};
    if (!text) rc = tl_buf_append(&buf, tl_synth_csv_header(so.kind), strlen(tl_synth_csv_header(so.kind)), &e);
    for (long long i = 0; i < rows && !rc; i++) {
        rc = tl_synth_row(&s, text, &buf, &e);
        if (!rc && (buf.n > (1 << 16) || i == rows - 1)) { /* flush */
            if (to_stdout) rc = fwrite(buf.p, 1, buf.n, stdout) != buf.n ? tl_errf(&e, "stdout: write failed") : 0;
            else rc = tl_afile_write(&af, buf.p, buf.n, &e);
            buf.n = 0;
        }
    }
    tl_buf_free(&buf);
    if (to_stdout) {
        if (!rc && fflush(stdout)) rc = tl_errf(&e, "stdout: write failed");
    } else if (rc) {
        tl_afile_abort(&af);
    } else {
        rc = tl_afile_commit(&af, &e);
    }
    if (rc) return tl_cli_fail(&e);
    if (!to_stdout)
        fprintf(stderr, "synth: %lld %s samples -> %s (%s)\n", rows, tl_synth_kind_name(so.kind), out, text ? "text" : "csv");
    return 0;
}
