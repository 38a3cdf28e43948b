/* Detach keys as docker writes them (moby/term ToBytes): comma separated, each a single
 * character or `ctrl-<value>` with value one of a-z, @, [, \, ], ^, _. The CLI
 * (`--detach-keys`) and the daemon (`detachKeys`, exec's `DetachKeys`) take the same set. */
#include "common/common.h"

#include <string.h>

int ctr_detach_keys_parse(const char *s, uint8_t *out, size_t *n)
{
    static const char ctrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    size_t len = 0;

    if (s == NULL)
        return -1;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t kl = comma ? (size_t)(comma - p) : strlen(p);
        uint8_t code;
        if (kl == 1) {
            code = (uint8_t)p[0];
        } else if (kl == 6 && strncmp(p, "ctrl-", 5) == 0 && p[5] && strchr(ctrl, p[5])) {
            code = (uint8_t)(strchr(ctrl, p[5]) - ctrl);
        } else {
            return -1;
        }
        if (len == CTR_DETACH_KEYS_MAX)
            return -1;
        if (out)
            out[len] = code;
        len++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (n)
        *n = len;
    return 0;
}
