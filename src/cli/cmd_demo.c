/* `tinyllm demo` (placeholder until its stage lands). */
#include <stdio.h>

#include "cli/commands.h"

int tl_cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "tinyllm: demo: not built yet\n");
    return 1;
}
