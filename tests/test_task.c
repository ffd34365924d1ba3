/* Task specs and the prompt template: exact template bytes, number rendering, and bad specs each
 * rejected with a message naming file:line and the problem. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tasks/task.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void numbers(const char *spec_numbers, const char *in, const char *want) {
    tl_task t = {0};
    char spec[256];
    snprintf(spec, sizeof spec, "input_column = i\noutput_column = o\ninstruction = x\nkind = regression\nnumbers = %s\n", spec_numbers);
    write_file("t_num.task", spec);
    tl_err e;
    CHECK(tl_task_load(&t, "t_num.task", &e) == 0, "%s", e.msg);
    tl_buf out = {0};
    tl_task_numbers(&t.numbers, in, strlen(in), &out, &e);
    CHECK(out.p && !strcmp(out.p, want), "numbers = %s on '%s': got '%s', want '%s'", spec_numbers, in, out.p ? out.p : "", want);
    tl_buf_free(&out);
    tl_task_free(&t);
    unlink("t_num.task");
}

int main(void) {
    tl_err e;
    tl_task t;
    write_file("t_ok.task", "# comment\nname = demo\ninstruction = Say it.\\nTwice.\ninput_column = in\noutput_column = out\n"
                            "labels = Yes, No ,Maybe\n");
    CHECK(tl_task_load(&t, "t_ok.task", &e) == 0, "%s", e.msg);
    CHECK(t.n_labels == 3 && !strcmp(t.labels[1], "No") && t.kind == TL_TASK_CLASSIFY, "labels");
    CHECK(!strcmp(t.instruction, "Say it.\nTwice."), "escaped newline in instruction");
    CHECK(tl_task_label(&t, " Maybe\n", 7) == 2 && tl_task_label(&t, "maybe", 5) == -1, "label lookup");
    tl_buf b = {0};
    const char *in = "  1.5, 2\n", *want_prompt = "### Instruction:\nSay it.\nTwice.\n\n### Input:\n1.5, 2\n\n### Response:\n";
    CHECK(tl_task_prompt(&t, t.instruction, strlen(t.instruction), in, strlen(in), &b, &e) == 0 && !strcmp(b.p, want_prompt),
          "prompt bytes: '%s'", b.p);
    b.n = 0;
    CHECK(tl_task_response(" Yes \n", 6, &b, &e) == 0 && !strcmp(b.p, "Yes\n\n### End"), "response bytes: '%s'", b.p);
    tl_buf_free(&b);
    tl_task_free(&t);

    numbers("keep", "1003.45,70.62,-0.5,1e3", "1003.45,70.62,-0.5,1e3");
    numbers("round:1", "1003.45,70.62,-0.04,1e3 x", "1003.5,70.6,0.0,1000.0 x");
    numbers("round:0", "[253, 255.7]", "[253, 256]");
    numbers("scale:10", "24.06 -1.25", "241 -13");
    numbers("round:1", "h2o 3rd 0x1F v1.2 a-1.25", "h2o 3rd 0x1F v1.2 a-1.2");
    /* numbers of any length are read whole and printed whole (fuzz/crashes/task: they were cut at 63
     * characters and printed through a 64-byte buffer); the expected text is Python's '%.Nf' */
    numbers("round:0", "1234567890123456789012345678901234567890123456789012345678901234567890",
            "1234567890123456737673593825840554821162769359150501237866527851544576");
    numbers("round:2", "x 1e100 y",
            "x 10000000000000000159028911097599180468360808563945281389781327557747838772170381060813469985856815104.00 y");
    /* minmax:L, each line on its own range: level floor((x - min) / (max - min) * L), max -> L - 1;
     * worked by hand (253/255*10 = 9.92 -> 9, 128/255*10 = 5.02 -> 5, (30-20)/20*10 = 5) */
    numbers("minmax:10", "Proximity: [253, 255, 0, 128]\nRed: [40, 20, 30]", "Proximity: [9, 9, 0, 5]\nRed: [9, 0, 5]");
    numbers("minmax:4", "-1.5 0.5 2.5", "0 2 3");
    numbers("minmax:10", "7 7 7\nnone here\n", "0 0 0\nnone here\n");
    numbers("minmax:2", "h2o 3rd 10 20", "h2o 3rd 0 1");
    numbers("minmax:10", "x 1e999 5", "x 0 0"); /* an infinite range: NaN levels print as 0 */
    /* spaced: only a gap of , ; space tab between two numbers of one line becomes one space */
    numbers("minmax:10 spaced", "Proximity: [253, 255, 0, 128]\nRed: [40,20 ;\t30]", "Proximity: [9 9 0 5]\nRed: [9 0 5]");
    numbers("keep spaced", "a 1.5,  -2;3 and 4,\n5, x, 6", "a 1.5 -2 3 and 4,\n5, x, 6");
    numbers("round:0 spaced", "[1.4, 2.6], [3, 4]", "[1 3], [3 4]");
    {
        const char *spell[] = {"keep", "round:3", "scale:2.5", "minmax:10", "keep spaced", "scale:0.001 spaced", "minmax:10 spaced"};
        for (size_t i = 0; i < sizeof spell / sizeof *spell; i++) {
            tl_numfmt f;
            char back[32] = "";
            CHECK(tl_task_parse_numbers(&f, spell[i], "x", &e) == 0, "%s", e.msg);
            tl_task_numbers_spell(&f, back);
            CHECK(!strcmp(back, spell[i]), "numbers = %s spelled back as '%s'", spell[i], back);
        }
    }

    static const struct {
        const char *what, *spec, *expect;
    } bad[] = {
        {"unknown key", "input_column = a\noutput_column = b\ninstruction = x\nlabels = p, q\ncolour = red\n", "t_bad.task:5: unknown key 'colour'"},
        {"no equals", "input_column a\n", "t_bad.task:1: expected 'key = value'"},
        {"no input", "output_column = b\ninstruction = x\nlabels = p, q\n", "input_column is required"},
        {"no output", "input_column = a\ninstruction = x\nlabels = p, q\n", "output_column is required"},
        {"two instructions", "input_column = a\noutput_column = b\ninstruction = x\ninstruction_column = c\nlabels = p, q\n", "exactly one of instruction"},
        {"no instruction", "input_column = a\noutput_column = b\nlabels = p, q\n", "exactly one of instruction"},
        {"one label", "input_column = a\noutput_column = b\ninstruction = x\nlabels = p\n", "at least 2"},
        {"regression with labels", "input_column = a\noutput_column = b\ninstruction = x\nkind = regression\nlabels = p, q\n", "takes no labels"},
        {"bad kind", "kind = ranking\n", "t_bad.task:1: kind must be"},
        {"empty label", "labels = p,,q\n", "empty label"},
        {"repeated label", "labels = p, q, p\n", "listed twice"},
        {"bad numbers", "numbers = round:x\n", "round:N needs N"},
        {"unknown numbers", "numbers = fancy\n", "must be keep, round:N, scale:K or minmax:L"},
        {"one level", "numbers = minmax:1\n", "minmax:L needs L in 2..1000"},
        {"spaced alone", "numbers = spaced\n", "must be keep, round:N, scale:K or minmax:L (then"},
        {"spaced first", "numbers = spaced minmax:10\n", "not 'spaced minmax:10'"},
        {"key twice", "input_column = a\ninput_column = b\n", "t_bad.task:2: 'input_column' is set twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file("t_bad.task", bad[i].spec);
        int rc = tl_task_load(&t, "t_bad.task", &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].expect), "%s: got '%s'", bad[i].what, rc ? e.msg : "success");
        if (!rc) tl_task_free(&t);
    }
    CHECK(tl_task_load(&t, "t_missing.task", &e) == -1 && strstr(e.msg, "t_missing.task: cannot open"), "%s", e.msg);
    unlink("t_bad.task");
    unlink("t_ok.task");
    CHECK_DONE();
}
