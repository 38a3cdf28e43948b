/* User resolution in the container's own /etc/passwd and /etc/group, with the
 * semantics of runc/docker: "name", "uid", "name:group", "uid:gid", "" = root.
 * A numeric uid need not exist in passwd; a name must. Supplementary groups are
 * the groups listing the user as member, unless a group was given explicitly. */
#include "guest/guest-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ETC_MAX (4u * 1024 * 1024)
#define MAX_GROUPS 64

struct pw_entry {
    char *name;
    uid_t uid;
    gid_t gid;
    char *home;
};

static bool parse_id(const char *s, uint32_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > INT32_MAX)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* Split a line into at most n fields at ':' (in place). Returns the field count. */
static size_t split_fields(char *line, char **f, size_t n)
{
    size_t k = 0;
    f[k++] = line;
    for (char *p = line; *p && k < n; p++)
        if (*p == ':') {
            *p = '\0';
            f[k++] = p + 1;
        }
    return k;
}

static int read_etc(const char *root, const char *name, char **out, ctr_error_t *err)
{
    cleanup_free char *path = ctr_xasprintf("%s/etc/%s", root, name);
    size_t len;

    *out = NULL;
    if (ctr_read_file(path, ETC_MAX, out, &len, err) < 0) {
        if ((*err)->errnum == ENOENT) {
            ctr_error_free(err);
            return 0; /* no such file: no entries */
        }
        return -1;
    }
    return 0;
}

/* Find a passwd entry by name (if name) or uid. Returns 1 found, 0 not, -1 error. */
static int passwd_find(const char *root, const char *name, uid_t uid, struct pw_entry *out,
                       ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    char *save = NULL;

    if (read_etc(root, "passwd", &data, err) < 0)
        return -1;
    for (char *line = data ? strtok_r(data, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[7];
        uint32_t u, g;
        if (line[0] == '#' || split_fields(line, f, 7) < 7 || !parse_id(f[2], &u) ||
            !parse_id(f[3], &g))
            continue;
        if (name ? strcmp(f[0], name) == 0 : u == uid) {
            out->name = ctr_xstrdup(f[0]);
            out->uid = u;
            out->gid = g;
            out->home = ctr_xstrdup(f[5][0] ? f[5] : "/");
            return 1;
        }
    }
    return 0;
}

static bool member_of(char *list, const char *user)
{
    char *save = NULL;
    for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
        if (strcmp(m, user) == 0)
            return true;
    return false;
}

/* Look up a group by name (gid out), and/or collect the groups `member` belongs to. */
static int group_scan(const char *root, const char *name, gid_t *gid, const char *member,
                      struct guest_user *u, ctr_error_t *err)
{
    cleanup_free char *data = NULL;
    char *save = NULL;
    int found = 0;

    if (read_etc(root, "group", &data, err) < 0)
        return -1;
    for (char *line = data ? strtok_r(data, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        uint32_t g;
        if (line[0] == '#' || split_fields(line, f, 4) < 4 || !parse_id(f[2], &g))
            continue;
        if (name && !found && strcmp(f[0], name) == 0) {
            *gid = g;
            found = 1;
        }
        if (member && u->n_groups < MAX_GROUPS && member_of(f[3], member)) {
            bool dup = false;
            for (size_t i = 0; i < u->n_groups; i++)
                dup = dup || u->groups[i] == g;
            if (!dup)
                u->groups[u->n_groups++] = g;
        }
    }
    return found;
}

int guest_user_resolve(const char *root, const char *spec, struct guest_user *out, ctr_error_t *err)
{
    cleanup_free char *user = ctr_xstrdup(spec ? spec : "");
    char *group = strchr(user, ':');
    struct guest_user u = {0};
    struct pw_entry pw = {0};
    uint32_t id;
    int r;

    if (group)
        *group++ = '\0';
    if (group && *group == '\0')
        return ctr_fail(err, 0, "invalid user `%s`: empty group", spec);
    if (user[0] == '\0' && group)
        return ctr_fail(err, 0, "invalid user `%s`: empty user name", spec);
    u.groups = ctr_xcalloc(MAX_GROUPS + 1, sizeof(gid_t));
    if (user[0] == '\0' || parse_id(user, &id)) {
        uid_t uid = user[0] == '\0' ? 0 : id;
        r = passwd_find(root, NULL, uid, &pw, err);
        if (r == 0) {
            pw.uid = uid;
            pw.gid = 0;
            pw.home = ctr_xstrdup("/");
        }
    } else {
        r = passwd_find(root, user, 0, &pw, err);
        if (r == 0)
            r = ctr_fail(err, 0, "unable to find user %s: no matching entries in passwd file",
                         user);
    }
    if (r < 0)
        goto fail;
    u.uid = pw.uid;
    u.gid = pw.gid;
    u.home = ctr_steal_ptr(pw.home);
    if (group) {
        if (parse_id(group, &id)) {
            u.gid = id;
        } else {
            gid_t g = 0;
            r = group_scan(root, group, &g, NULL, &u, err);
            if (r == 0)
                r = ctr_fail(err, 0, "unable to find group %s: no matching entries in group file",
                             group);
            if (r < 0)
                goto fail;
            u.gid = g;
        }
    } else if (pw.name) {
        if (group_scan(root, NULL, NULL, pw.name, &u, err) < 0)
            goto fail;
    }
    free(pw.name);
    *out = u;
    return 0;
fail:
    free(pw.name);
    free(pw.home);
    guest_user_release(&u);
    return -1;
}

int guest_user_add_groups(const char *root, struct guest_user *u, char *const *groups,
                          ctr_error_t *err)
{
    for (size_t i = 0; groups && groups[i]; i++) {
        uint32_t id;
        gid_t g = 0;
        if (parse_id(groups[i], &id)) {
            g = id;
        } else {
            struct guest_user none = {0};
            int r = group_scan(root, groups[i], &g, NULL, &none, err);
            if (r < 0)
                return -1;
            if (r == 0)
                return ctr_fail(err, 0,
                                "unable to find group %s: no matching entries in group file",
                                groups[i]);
        }
        bool dup = false;
        for (size_t k = 0; k < u->n_groups; k++)
            dup = dup || u->groups[k] == g;
        if (!dup && u->n_groups < MAX_GROUPS)
            u->groups[u->n_groups++] = g;
    }
    return 0;
}

void guest_user_release(struct guest_user *u)
{
    free(u->groups);
    free(u->home);
    memset(u, 0, sizeof(*u));
}
