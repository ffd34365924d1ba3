/* `tinyllm prepare` (placeholder until its stage lands). */
#include <stdio.h>

#include "cli/commands.h"

int tl_cmd_prepare(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tinyllm: prepare: not built yet\n");
    return 1;
}
