/* sha256 digests: validation and streaming computation through libcrypto EVP. */
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int oci_digest_check(const char *d, ctr_error_t *err)
{
    const char *colon;
    size_t n;

    if (d == NULL || *d == '\0')
        return ctr_fail(err, 0, "empty digest");
    colon = strchr(d, ':');
    if (colon == NULL || colon == d)
        return ctr_fail(err, 0, "invalid digest `%.80s`: expected `sha256:<64 hex digits>`", d);
    if ((size_t)(colon - d) != 6 || strncmp(d, "sha256", 6) != 0) {
        for (const char *p = d; p < colon; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+._-", *p)))
                return ctr_fail(err, 0, "invalid digest `%.80s`: bad algorithm name", d);
        return ctr_fail(err, 0,
                        "unsupported digest algorithm `%.*s` in `%.80s`: only sha256 is "
                        "supported",
                        (int)(colon - d > 32 ? 32 : colon - d), d, d);
    }
    n = strlen(colon + 1);
    if (n != OCI_DIGEST_HEX_LEN)
        return ctr_fail(err, 0, "invalid digest `%.80s`: sha256 needs 64 hex digits, got %zu", d,
                        n);
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return ctr_fail(err, 0, "invalid digest `%.80s`: hex digits must be lowercase 0-9a-f",
                            d);
    return 0;
}

bool oci_digest_valid(const char *d)
{
    return oci_digest_check(d, NULL) == 0;
}

const char *oci_digest_hex(const char *d)
{
    return d + strlen(OCI_DIGEST_PREFIX);
}

void oci_hasher_init(struct oci_hasher *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        abort(); /* only fails on OOM */
    h->ctx = ctx;
    h->size = 0;
}

void oci_hasher_update(struct oci_hasher *h, const void *buf, size_t len)
{
    if (len == 0)
        return;
    if (EVP_DigestUpdate(h->ctx, buf, len) != 1)
        abort();
    h->size += len;
}

void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_STR_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    char *p;

    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
        abort();
    memcpy(out, OCI_DIGEST_PREFIX, strlen(OCI_DIGEST_PREFIX));
    p = out + strlen(OCI_DIGEST_PREFIX);
    for (unsigned i = 0; i < n; i++) {
        *p++ = hex[md[i] >> 4];
        *p++ = hex[md[i] & 15];
    }
    *p = '\0';
    oci_hasher_release(h);
}

void oci_hasher_release(struct oci_hasher *h)
{
    if (h->ctx)
        EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void oci_digest_buf(const void *buf, size_t len, char out[OCI_DIGEST_STR_LEN + 1])
{
    struct oci_hasher h;
    oci_hasher_init(&h);
    oci_hasher_update(&h, buf, len);
    oci_hasher_final(&h, out);
}

int oci_digest_file(const char *path, char out[OCI_DIGEST_STR_LEN + 1], uint64_t *size,
                    ctr_error_t *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_free char *buf = NULL;
    struct oci_hasher h;

    if (fd < 0)
        return ctr_fail(err, errno, "open `%s`", path);
    buf = ctr_xmalloc(1 << 16);
    oci_hasher_init(&h);
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            oci_hasher_release(&h);
            return ctr_fail(err, e, "read `%s`", path);
        }
        if (r == 0)
            break;
        oci_hasher_update(&h, buf, (size_t)r);
    }
    if (size)
        *size = h.size;
    oci_hasher_final(&h, out);
    return 0;
}
