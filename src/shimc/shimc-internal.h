/* Private to src/shimc. */
#ifndef CTR_SHIMC_INTERNAL_H
#define CTR_SHIMC_INTERNAL_H

#include "shimc/shimc.h"

/* start.c: the container-runtime binary to run (shimc_set_runtime's, else
 * $CONTAINER_RUNTIME_BIN, else next to the running executable, else from PATH). */
char *shimc_runtime(void);

#endif
