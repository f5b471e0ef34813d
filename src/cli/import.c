/* placeholder: replaced by the import subcommand */
#include "cli.h"
int cli_import(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return CLI_FAIL;
}
