/* `tinyllm run` (placeholder until its stage lands). */
#include <stdio.h>

#include "cli/commands.h"

int tl_cmd_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tinyllm: run: not built yet\n");
    return 1;
}
