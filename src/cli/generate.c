/* placeholder: replaced by the generate subcommand */
#include "cli.h"
int cli_generate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return CLI_FAIL;
}
