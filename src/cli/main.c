/* container: the command line (see docs/cli.md); everything is in cli_main. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
