/* Text that reaches JSON from outside (argv, URLs, query values, guest output, file
 * names): jansson refuses bytes that are not UTF-8 (json_string returns NULL and the
 * value is lost), so each such byte becomes U+FFFD, as Go's encoding/json does. One
 * copy for the CLI, the daemon, the shim and the guest. */
#include "common/common.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), 0 when the bytes there are not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

bool ctr_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

char *ctr_utf8_fix(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    /* At worst every byte becomes the 3 bytes of U+FFFD. */
    char *out = ctr_xmalloc(strlen(s) * 3 + 1), *o = out;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
            continue;
        }
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    *o = '\0';
    return out;
}

void ctr_cleanup_json(json_t **j)
{
    if (*j)
        json_decref(*j);
    *j = NULL;
}

json_t *ctr_json_str(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j == NULL) {
        char *fixed = ctr_utf8_fix(s);
        j = json_string(fixed);
        free(fixed);
    }
    if (j == NULL)
        abort(); /* valid UTF-8 without NUL: only out of memory */
    return j;
}
