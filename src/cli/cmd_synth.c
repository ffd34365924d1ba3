/* `tinyllm synth`: synthetic sensor data as task CSV rows or pre-training text documents. */
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "base/rng.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "tasks/synth.h"

/* Appends a CSV field, quoted (RFC 4180) when it holds a comma, quote or line break. */
static int csv_field(tl_buf *b, const char *s, size_t n, tl_err *e) {
    if (strcspn(s, ",\"\r\n") >= n) return tl_buf_append(b, s, n, e);
    if (tl_buf_append(b, "\"", 1, e)) return -1;
    for (size_t i = 0; i < n; i++)
        if ((s[i] == '"' && tl_buf_append(b, "\"", 1, e)) || tl_buf_append(b, s + i, 1, e)) return -1;
    return tl_buf_append(b, "\"", 1, e);
}

int tl_cmd_synth(int argc, char **argv) {
    const char *out = "-", *format = "csv";
    long long rows = 100, seed = 1;
    float hz = 20, seconds = 2, rate_min = 8, rate_max = 20;
    tl_opt opts[] = {
        {"rows", 'n', TL_OPT_I64, &rows, "samples to generate"},
        {"out", 'o', TL_OPT_STR, &out, "output file (written atomically), or - for stdout"},
        {"format", 'f', TL_OPT_STR, &format, "csv (the reference task's columns) or text (pre-training documents: input + label)"},
        {"seed", 's', TL_OPT_I64, &seed, "seed: the same seed gives the same bytes"},
        {"hz", 0, TL_OPT_FLOAT, &hz, "imu: sampling rate (Hz)"},
        {"seconds", 0, TL_OPT_FLOAT, &seconds, "imu: window length (s)"},
        {"rate-min", 0, TL_OPT_FLOAT, &rate_min, "breathing: lowest rate drawn (breaths per minute)"},
        {"rate-max", 0, TL_OPT_FLOAT, &rate_max, "breathing: highest rate drawn"},
    };
    tl_cmd cmd = {"synth", "tinyllm synth imu|environment|gesture|breathing [options]",
                  "Generates synthetic sensor samples (models and parameters: docs/synth.md). CSV output has\n"
                  "the columns of the matching reference task (environment: localisation, gesture, breathing:\n"
                  "breathe; imu: input,output with tasks/activity.task), so `prepare --task` reads it unchanged.\n"
                  "Text output writes one document per sample (input, then the label line), blank-line separated.\n\n"
                  "example: tinyllm synth breathing --rows 500 --seed 7 -o breathing.csv\n"
                  "         tinyllm synth imu --rows 20000 --format text -o imu.txt",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 1, &npos);
    if (r >= 0) return r;
    tl_err e;
    int kind = npos == 1 ? tl_synth_kind_parse(pos[0]) : -1, text = !strcmp(format, "text");
    if (kind < 0) {
        tl_errf(&e, "synth: give a generator: imu, environment, gesture or breathing%s%s%s", npos ? " (not '" : "",
                npos ? pos[0] : "", npos ? "')" : "");
        return tl_cli_fail(&e);
    }
    if (!text && strcmp(format, "csv")) {
        tl_errf(&e, "--format must be csv or text, not '%s'", format);
        return tl_cli_fail(&e);
    }
    if (rows < 1 || !(rate_min > 0 && rate_max >= rate_min && rate_max < 200) || !(hz > 0 && seconds > 0)) {
        tl_errf(&e, "synth: need --rows >= 1, 0 < --rate-min <= --rate-max < 200, --hz and --seconds > 0");
        return tl_cli_fail(&e);
    }
    tl_synth_opts so = {.kind = (tl_synth_kind)kind, .hz = hz, .seconds = seconds, .rate_min = rate_min, .rate_max = rate_max};
    int n_labels;
    const char *const *labels = tl_synth_labels(so.kind, &n_labels);
    const char *ins = tl_synth_instruction(so.kind);
    static const char *label_line[TL_SYNTH_N_KINDS] = {"Activity", "Location", "Gesture", "Breathing rate"};
    tl_afile af;
    int to_stdout = !strcmp(out, "-");
    if (!to_stdout && tl_afile_open(&af, out, &e)) return tl_cli_fail(&e);
    tl_rng rng;
    tl_rng_seed(&rng, (uint64_t)seed);
    tl_buf input = {0}, line = {0};
    int rc = 0;
    if (!text) {
        const char *header = so.kind == TL_SYNTH_GESTURE ? "instruction,input,output\n" : "input,output\n";
        rc = tl_buf_append(&line, header, strlen(header), &e);
    }
    for (long long i = 0; i < rows && !rc; i++) {
        int label;
        double target;
        char value[32];
        input.n = 0;
        if ((rc = tl_synth_sample(&so, &rng, &input, &label, &target, &e))) break;
        if (label >= 0) snprintf(value, sizeof value, "%s", labels[label]);
        else snprintf(value, sizeof value, "%.2f", target);
        if (text) {
            while (input.n && input.p[input.n - 1] == '\n') input.n--;
            rc = tl_buf_append(&line, input.p, input.n, &e) || tl_buf_append(&line, "\n", 1, &e) ||
                 tl_buf_append(&line, label_line[kind], strlen(label_line[kind]), &e) || tl_buf_append(&line, ": ", 2, &e) ||
                 tl_buf_append(&line, value, strlen(value), &e) ||
                 tl_buf_append(&line, label < 0 ? " breaths per minute\n\n" : "\n\n", label < 0 ? 21 : 2, &e);
        } else {
            rc = (so.kind == TL_SYNTH_GESTURE && (csv_field(&line, ins, strlen(ins), &e) || tl_buf_append(&line, ",", 1, &e))) ||
                 csv_field(&line, input.p, input.n, &e) || tl_buf_append(&line, ",", 1, &e) ||
                 csv_field(&line, value, strlen(value), &e) || tl_buf_append(&line, "\n", 1, &e);
        }
        if (!rc && (line.n > (1 << 16) || i == rows - 1)) { /* flush */
            if (to_stdout) rc = fwrite(line.p, 1, line.n, stdout) != line.n ? tl_errf(&e, "stdout: write failed") : 0;
            else rc = tl_afile_write(&af, line.p, line.n, &e);
            line.n = 0;
        }
    }
    tl_buf_free(&input);
    tl_buf_free(&line);
    if (!to_stdout) {
        if (rc) tl_afile_abort(&af);
        else rc = tl_afile_commit(&af, &e);
    }
    if (!rc && !to_stdout)
        fprintf(stderr, "synth: %lld %s samples -> %s (%s)\n", rows, tl_synth_kind_name(so.kind), out, text ? "text" : "csv");
    (void)n_labels;
    return rc ? tl_cli_fail(&e) : 0;
}
