/* `docker import`: a one-layer image from a root filesystem tar, uploaded or fetched from
 * an http(s) URL (moby's daemon/images/image_import.go). The tar may be compressed
 * (gzip, bzip2, xz, zstd); the layer is stored uncompressed, so its digest is its
 * diff_id. docs/api.md. */
#include "daemon/daemon-internal.h"
#include "image/store.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMPORT_MAX_REDIRS 10

static size_t curl_write(char *p, size_t size, size_t n, void *ctx)
{
    int fd = *(int *)ctx;
    return ctr_write_all(fd, p, size * n) < 0 ? 0 : size * n;
}

/* GET url into fd: http and https only (a URL without a scheme is http, as Docker). */
static int fetch(const char *url, int fd, ctr_error_t *err)
{
    cleanup_free char *u = strstr(url, "://") ? ctr_xstrdup(url) : ctr_xasprintf("http://%s", url);
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        return dmn_fail(err, EINVAL, "unsupported URL scheme in `%s`: only http and https", url);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return dmn_fail(err, ENOMEM, "cannot start a transfer");
    char ebuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)IMPORT_MAX_REDIRS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return dmn_fail(err, EIO, "cannot fetch `%s`: %s", url,
                        *ebuf ? ebuf : curl_easy_strerror(rc));
    if (status < 200 || status >= 300)
        return dmn_fail(err, EIO, "cannot fetch `%s`: the server answered %ld", url, status);
    return 0;
}

/* Decompress in_fd into out_fd (any filter libarchive knows, or none), hashing. */
static int decompress(int in_fd, int out_fd, char **digest, int64_t *size, ctr_error_t *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char buf[65536];
    la_ssize_t n;
    int ret = -1;

    *size = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_fd(a, in_fd, 65536) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK) {
        dmn_fail(err, EINVAL, "the import source is empty or unreadable: %s",
                 archive_error_string(a) ? archive_error_string(a) : "no data");
        goto out;
    }
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
        if (ctr_write_all(out_fd, buf, (size_t)n) < 0) {
            ctr_fail(err, errno, "write the layer");
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        *size += n;
    }
    if (n < 0) {
        dmn_fail(err, EINVAL, "cannot decompress the import source: %s", archive_error_string(a));
        goto out;
    }
    unsigned char d[32];
    char hex[65];
    EVP_DigestFinal_ex(md, d, NULL);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    *digest = ctr_xasprintf("sha256:%s", hex);
    ret = 0;
out:
    archive_read_free(a);
    EVP_MD_CTX_free(md);
    return ret;
}

/* The layer must be a tar: read every header once (the unpacker reads it again later). */
static int check_tar(int fd, ctr_error_t *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int r;

    archive_read_support_format_tar(a);
    if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        archive_read_free(a);
        return dmn_fail(err, EINVAL, "the import source is not a tar archive");
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
        ;
    if (r != ARCHIVE_EOF) {
        dmn_fail(err, EINVAL, "the import source is not a tar archive: %s",
                 archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    archive_read_free(a);
    return 0;
}

static int tmp_file(struct dmn *d, ctr_error_t *err)
{
    int fd = open(d->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return ctr_fail(err, errno, "create a file in `%s`", d->tmp_dir);
    return fd;
}

int dmn_image_import(struct dmn *d, const struct dmn_import_req *rq,
                     void (*status)(void *ctx, const char *msg), void *ctx, char **id_out,
                     ctr_error_t *err)
{
    cleanup_free char *name = NULL;
    cleanup_free char *diff_id = NULL;
    struct oci_platform plat = {0};
    int64_t size = 0;
    int src = -1, layer = -1, rc = -1;

    if (rq->repo && *rq->repo) {
        /* the repository may carry the tag itself (the CLI's import sends it so) */
        cleanup_free char *r =
            rq->tag && *rq->tag ? ctr_xasprintf("%s:%s", rq->repo, rq->tag) : ctr_xstrdup(rq->repo);
        if ((name = oci_ref_normalize(r, err)) == NULL) {
            (*err)->errnum = EINVAL;
            return -1;
        }
    }
    if (rq->platform && *rq->platform) {
        if (oci_platform_parse(rq->platform, &plat, err) < 0) {
            (*err)->errnum = EINVAL;
            return -1;
        }
        if (!oci_platform_matches_host(&plat)) {
            oci_platform_release(&plat);
            return dmn_fail(err, EINVAL, "platform `%s` is not this host's (linux/amd64)",
                            rq->platform);
        }
        oci_platform_release(&plat);
    }
    json_t *config = json_object();
    if (dmn_commit_changes_apply(config, rq->changes, err) < 0)
        goto out;
    if (rq->url && strstr(rq->url, "://") && strncmp(rq->url, "http://", 7) != 0 &&
        strncmp(rq->url, "https://", 8) != 0) {
        dmn_fail(err, EINVAL, "unsupported URL scheme in `%s`: only http and https", rq->url);
        goto out;
    }
    if (rq->url) {
        cleanup_free char *msg = ctr_xasprintf("Downloading from %s", rq->url);
        status(ctx, msg);
        if ((src = tmp_file(d, err)) < 0 || fetch(rq->url, src, err) < 0 ||
            lseek(src, 0, SEEK_SET) < 0)
            goto out;
        status(ctx, "Importing");
    } else if ((src = open(rq->src_path, O_RDONLY | O_CLOEXEC)) < 0) {
        ctr_fail(err, errno, "open the uploaded archive");
        goto out;
    }
    if ((layer = tmp_file(d, err)) < 0 || decompress(src, layer, &diff_id, &size, err) < 0 ||
        check_tar(layer, err) < 0)
        goto out;
    struct dmn_image_build b = {
        .layer_fd = layer,
        .diff_id = diff_id,
        .layer_size = size,
        .config = config,
        .comment = rq->message,
        .name = name,
    };
    rc = dmn_image_build(d, &b, id_out, err);
    if (rc == 0) {
        dmn_lock(d);
        cleanup_free char *f = name ? dmn_image_familiar(name) : NULL;
        dmn_event_emit_locked(d, "image", "import", *id_out,
                              json_pack("{s:s}", "name", f ? f : *id_out));
        dmn_unlock(d);
    }
out:
    if (src >= 0)
        close(src);
    if (layer >= 0)
        close(layer);
    json_decref(config);
    return rc;
}
