/* Small protocol helpers: the scheme option and base64 (Basic auth, config.json). */
#include "registry/registry-internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

int registry_scheme_parse(const char *s, enum registry_scheme *out, ctr_error_t *err)
{
    if (strcmp(s, "https") == 0)
        *out = REGISTRY_SCHEME_HTTPS;
    else if (strcmp(s, "http") == 0)
        *out = REGISTRY_SCHEME_HTTP;
    else if (strcmp(s, "auto") == 0)
        *out = REGISTRY_SCHEME_AUTO;
    else
        return registry_fail_code(err, EINVAL, "invalid scheme `%s`: use `http`, `https` or `auto`",
                                  s);
    return 0;
}

char *registry_b64_encode(const void *data, size_t len)
{
    char *out = ctr_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *registry_b64_decode(const char *s, size_t *out_len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    char *out = ctr_xmalloc(n / 4 * 3 + 1);
    int r = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    if (n >= 1 && s[n - 1] == '=')
        r--;
    if (n >= 2 && s[n - 2] == '=')
        r--;
    out[r] = '\0';
    if (out_len)
        *out_len = (size_t)r;
    return out;
}
