/* Read access to the blobs of an OCI image layout directory (blobs/sha256/<hex>).
 * Writing content is the image store's job (src/image/store.h). */
#include "oci/oci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *oci_layout_blob_path(const char *dir, const char *digest)
{
    return ctr_xasprintf("%s/blobs/sha256/%s", dir, oci_digest_hex(digest));
}

bool oci_layout_blob_has(const char *dir, const char *digest, int64_t size)
{
    cleanup_free char *p = NULL;
    struct stat st;
    if (!oci_digest_valid(digest))
        return false;
    p = oci_layout_blob_path(dir, digest);
    if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
        return false;
    return size < 0 || st.st_size == size;
}

int oci_layout_blob_read(const char *dir, const char *digest, size_t max, char **out, size_t *len,
                         ctr_error_t *err)
{
    cleanup_free char *p = NULL;
    cleanup_free char *data = NULL;
    char got[OCI_DIGEST_STR_LEN + 1];
    size_t n;

    if (!oci_digest_valid(digest))
        return ctr_fail_class(err, EINVAL, "invalid digest `%s`", digest);
    p = oci_layout_blob_path(dir, digest);
    if (ctr_read_file(p, max, &data, &n, err) < 0)
        return -1;
    oci_digest_buf(data, n, got);
    if (strcmp(got, digest) != 0)
        return ctr_fail_class(err, EBADMSG, "stored blob `%s` is corrupt (content has digest `%s`)",
                              digest, got);
    *out = ctr_steal_ptr(data);
    *len = n;
    return 0;
}
