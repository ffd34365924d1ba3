/* Sensing tasks: the task spec (which CSV columns hold instruction / input / output, the label set
 * or regression, how numbers are rendered) and the paper's prompt template, shared by prepare and,
 * later, fine-tuning, eval, run and the server. libc only, so the edge runtime can use it.
 *
 * Template (fields trimmed of surrounding white space):
 *   ### Instruction:\n<instruction>\n\n### Input:\n<input>\n\n### Response:\n   <- prompt
 *   <output>\n\n### End                                                          <- response
 *
 * Spec file: `key = value` lines, `#` comments; in values `\n` is a newline and `\\` a backslash.
 *   name = gesture                  instruction = <text>   (or instruction_column = <column>)
 *   input_column = input            output_column = output
 *   labels = Tap, Double, Hold      (classification)  or  kind = regression
 *   numbers = keep | round:N | scale:K | minmax:L, each optionally followed by ` spaced`
 *     input numbers as written, to N decimals, times K rounded to an integer, or each line's numbers
 *     as levels 0..L-1 of that line's own range (min -> 0, max -> L-1; a line of equal numbers -> 0):
 *     a reading's shape, not its scale, one short token per reading. `spaced`: what separates two
 *     numbers of a line, when only commas, semicolons, spaces and tabs, becomes one space
 *     ("[9, 9, 0]" -> "[9 9 0]"): GPT-2-style tokenizers make " 9" one token, so a reading costs
 *     one token instead of two */
#ifndef TL_TASKS_TASK_H
#define TL_TASKS_TASK_H

#include <stddef.h>

#include "base/err.h"
#include "base/vec.h"

typedef enum { TL_TASK_CLASSIFY, TL_TASK_REGRESS } tl_task_kind;
typedef enum { TL_NUM_KEEP, TL_NUM_ROUND, TL_NUM_SCALE, TL_NUM_MINMAX } tl_num_mode;

/* How a prompt's input numbers are rendered (the spec's `numbers` line). */
typedef struct tl_numfmt {
    tl_num_mode mode;
    int digits;            /* round:N */
    double scale;          /* scale:K */
    int levels;            /* minmax:L */
    int spaced;            /* ` spaced`: separators between numbers become one space */
} tl_numfmt;

typedef struct tl_task {
    char *name;
    char *instruction;     /* fixed text, or NULL when instruction_col is set */
    char *instruction_col, *input_col, *output_col;
    tl_task_kind kind;
    int n_labels;
    char **labels;
    tl_numfmt numbers;
} tl_task;

/* Loads and checks a spec; errors name path:line. */
int tl_task_load(tl_task *t, const char *path, tl_err *e);
void tl_task_free(tl_task *t);
/* Sets the number rendering from its spec spelling (keep | round:N | scale:K | minmax:L [spaced]); errors name
 * `where`. tl_task_numbers_spell writes that spelling back (at most 32 bytes with the NUL). */
int tl_task_parse_numbers(tl_numfmt *f, const char *spec, const char *where, tl_err *e);
void tl_task_numbers_spell(const tl_numfmt *f, char out[32]);
/* Index of `s` (trimmed) in the label set, or -1. */
int tl_task_label(const tl_task *t, const char *s, size_t n);
/* Appends the prompt (everything up to and including "### Response:\n"); the input's numbers are
 * rendered per the spec. */
int tl_task_prompt(const tl_task *t, const char *instruction, size_t ni, const char *input, size_t nn, tl_buf *out,
                   tl_err *e);
/* Appends the response: the trimmed output, then "\n\n### End". */
int tl_task_response(const char *output, size_t n, tl_buf *out, tl_err *e);
/* Appends `s` with every number re-rendered per `f` (keep: copied as is). */
int tl_task_numbers(const tl_numfmt *f, const char *s, size_t n, tl_buf *out, tl_err *e);

#endif
