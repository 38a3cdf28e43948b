/* Rendering of the daemon's pull/push JSON progress messages (docker's shape:
 * {"id","status","progressDetail":{"current","total"}}) for `image pull/push`. */
#ifndef CTR_CLI_PROGRESS_H
#define CTR_CLI_PROGRESS_H

#include "common/common.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

enum cli_progress_mode {
    CLI_PROGRESS_AUTO,  /* ansi on a terminal, plain otherwise */
    CLI_PROGRESS_NONE,  /* only the result lines (Digest:, Status:, Warning:, pushed digest) */
    CLI_PROGRESS_PLAIN, /* one line per event; byte counts at most once a second per layer */
    CLI_PROGRESS_ANSI,  /* per-layer lines redrawn in place plus an overall line */
};

/* `--progress` value; the message names the flag. */
int cli_progress_parse(const char *flag, const char *v, enum cli_progress_mode *out,
                       ctr_error_t *err);

struct cli_progress;
/* clock: monotonic ns; NULL = ctr_now_ns (tests pass their own). AUTO picks by isatty(out). */
struct cli_progress *cli_progress_new(enum cli_progress_mode mode, FILE *out,
                                      uint64_t (*clock)(void));
/* Render one message (errors are not handled here: the caller keeps them). */
void cli_progress_msg(struct cli_progress *p, json_t *msg);
/* Final redraw (ansi) and free. NULL is fine. */
void cli_progress_free(struct cli_progress *p);

/* `image pull --platform/--os/--arch`: --os and --arch replace parts of --platform
 * (--arch drops its variant), the host's fill the rest ("linux/arm64"). "" when none is given (the
 * daemon then picks the host's); NULL with *err on a bad --platform. */
char *cli_image_platform(const char *platform, const char *os, const char *arch, ctr_error_t *err);

#endif
