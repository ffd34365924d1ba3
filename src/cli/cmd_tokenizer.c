/* `tinyllm tokenizer` (placeholder until its stage lands). */
#include <stdio.h>

#include "cli/commands.h"

int tl_cmd_tokenizer(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tinyllm: tokenizer: not built yet\n");
    return 1;
}
