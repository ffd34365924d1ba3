/* `tinyllm pretrain` (placeholder until its stage lands). */
#include <stdio.h>

#include "cli/commands.h"

int tl_cmd_pretrain(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tinyllm: pretrain: not built yet\n");
    return 1;
}
