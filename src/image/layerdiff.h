/* A container's writable layer read back (docs/images.md, "Changes and layers"): the
 * overlay upper directory of its writable disk turned into Docker's change list
 * (`docker diff`) and into an OCI layer tar (`docker commit`; the builder's RUN steps).
 *
 * The upper directory is what the guest's overlayfs left: a deleted file is a character
 * device 0/0 (a whiteout), a directory whose lower contents were removed carries
 * `trusted.overlay.opaque` = "y". In the layer these become `.wh.NAME` and
 * `DIR/.wh..wh..opq`, as the OCI image spec and Docker write them; the overlay's own
 * xattrs (`trusted.overlay.*`) never reach the layer.
 *
 * Two sources, one model: the ext4 disk read on the host (a stopped container: the guest
 * unmounted it cleanly), or a tar of the upper directory as vminitd reads it (a running
 * container, whose disk the host cannot read while the guest writes it). Every symbol
 * carries the `layerdiff_` prefix. */
#ifndef CTR_IMAGE_LAYERDIFF_H
#define CTR_IMAGE_LAYERDIFF_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Docker's archive.ChangeType values (the API's `Kind`). */
enum layerdiff_kind { LAYERDIFF_MODIFIED = 0, LAYERDIFF_ADDED = 1, LAYERDIFF_DELETED = 2 };

struct layerdiff_change {
    char *path; /* absolute: "/etc/passwd" */
    enum layerdiff_kind kind;
};
void layerdiff_changes_free(struct layerdiff_change *v, size_t n);

struct layerdiff;
/* The upper directory `upper_dir` (e.g. "/upper") of the ext4 disk `rw_disk`, compared
 * with the image's ext4 snapshot `lower_image` (NULL: an empty image). A disk never
 * mounted (no upper directory yet) has no changes. A disk whose journal needs recovery
 * is refused (EUCLEAN). */
int layerdiff_open_disk(const char *rw_disk, const char *upper_dir, const char *lower_image,
                        struct layerdiff **out, ctr_error_t *err);
/* The upper directory as a tar read from fd (vminitd's `upper` archive: whiteouts as
 * char devices 0/0, xattrs in PAX records). File data is spooled into an unlinked file
 * in `tmp_dir`. */
int layerdiff_open_tar(int fd, const char *tmp_dir, const char *lower_image, struct layerdiff **out,
                       ctr_error_t *err);
void layerdiff_free(struct layerdiff *ld);

/* Docker's change list: depth first, names in byte order, a changed directory's parent
 * listed as modified before it (moby pkg/archive changes()). The paths Docker keeps in
 * its init layer (/etc/hosts, /etc/hostname, /etc/resolv.conf, /dev, /proc, /sys; ours
 * also /run) are left out, and so is a directory copied up only for them. */
int layerdiff_changes(struct layerdiff *ld, struct layerdiff_change **out, size_t *n,
                      ctr_error_t *err);

/* Write the layer as an uncompressed tar (PAX where needed) to fd; *diff_id gets
 * "sha256:<hex>" of the bytes written and *size their count. */
int layerdiff_write_tar(struct layerdiff *ld, int fd, char **diff_id, int64_t *size,
                        ctr_error_t *err);

#endif
