/* QEMU's events, read from a QMP monitor of every container VM: a write that failed
 * for want of space on the host (BLOCK_IO_ERROR with `nospace`) is recorded in
 * state.json (`error`, what `inspect` shows as State.Error) and written to the container
 * log. The drives report errors to the guest (werror=report, vmm-qemu.c): the
 * container's process gets the I/O error and the VM keeps running. docs/runtime.md. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_LINE_MAX (64u << 10)
#define DISK_FULL_REPEAT_NS (30ull * 1000000000ull) /* a repeated note at most this often */

int shim_events_pair(struct shim *s, int *qemu_end, ctr_error_t *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return ctr_fail(err, errno, "socketpair");
    if (s->events_fd >= 0)
        close(s->events_fd);
    s->events_fd = sv[0];
    s->events_len = 0;
    fcntl(s->events_fd, F_SETFL, O_NONBLOCK);
    *qemu_end = sv[1];
    return 0;
}

static const char *disk_path(struct shim *s, const char *device)
{
    unsigned idx;
    char extra;
    if (device && sscanf(device, "disk%u%c", &idx, &extra) == 1 && idx < s->cfg.n_disks)
        return s->cfg.disks[idx].path;
    return NULL;
}

static void disk_full(struct shim *s, json_t *data)
{
    const char *device = json_string_value(json_object_get(data, "device"));
    const char *op = json_string_value(json_object_get(data, "operation"));
    const char *path = disk_path(s, device);
    uint64_t now = ctr_now_ns();

    s->disk_full_events++;
    if (s->disk_full_ns && now - s->disk_full_ns < DISK_FULL_REPEAT_NS)
        return;
    s->disk_full_ns = now;
    cleanup_free char *msg =
        ctr_xasprintf("host disk full: %s to the container's disk `%s` failed (no space left on "
                      "device); the container sees I/O errors until space is freed on the host",
                      op ? op : "write", path ? path : (device ? device : "?"));
    log_warn("%s", msg);
    free(s->st.error);
    s->st.error = ctr_xstrdup(msg);
    if (s->phase == SHIM_RUNNING || s->phase == SHIM_EXITED)
        shim_write_state(s, s->phase == SHIM_RUNNING ? BUNDLE_RUNNING : BUNDLE_STOPPED);
    cleanup_free char *line = ctr_xasprintf("container: %s\n", msg);
    shim_logw_flush(&s->log, AGENTC_STDERR); /* a line of its own */
    shim_logw_write(&s->log, AGENTC_STDERR, (const uint8_t *)line, strlen(line));
}

static void events_message(struct shim *s, const char *text, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(text, len, 0, &je);
    if (m == NULL)
        return;
    if (json_object_get(m, "QMP")) {
        /* the greeting: events flow once capabilities are negotiated */
        static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
        if (ctr_write_all(s->events_fd, caps, sizeof(caps) - 1) < 0)
            log_warn("qmp events: %s", strerror(errno));
    }
    const char *ev = json_string_value(json_object_get(m, "event"));
    if (ev && strcmp(ev, "BLOCK_IO_ERROR") == 0) {
        json_t *data = json_object_get(m, "data");
        const char *reason = json_string_value(json_object_get(data, "reason"));
        /* `nospace` comes only with a device's I/O status (not virtio-blk-device's):
         * the reason is QEMU's strerror(ENOSPC) */
        if (json_is_true(json_object_get(data, "nospace")) ||
            (reason && strcmp(reason, strerror(ENOSPC)) == 0))
            disk_full(s, data);
        else
            log_warn("qemu: i/o error on `%s`: %s",
                     json_string_value(json_object_get(data, "device")) ?: "?", reason ?: "?");
    }
    json_decref(m);
}

static void events_io(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;
    char buf[4096];
    ssize_t n = read(s->events_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* QEMU is gone */
        shim_loop_del(w);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            events_message(s, s->events_buf, s->events_len);
            s->events_len = 0;
        } else if (s->events_len < EVENTS_LINE_MAX) {
            if (s->events_len == s->events_cap) {
                s->events_cap = s->events_cap ? s->events_cap * 2 : 1024;
                s->events_buf = ctr_xrealloc(s->events_buf, s->events_cap);
            }
            s->events_buf[s->events_len++] = buf[i];
        }
    }
}

void shim_events_drain(struct shim *s)
{
    if (s->events_fd >= 0 && s->events_w.loop)
        events_io(&s->events_w, EPOLLIN);
}

int shim_events_watch(struct shim *s, ctr_error_t *err)
{
    if (s->events_fd < 0)
        return 0;
    return shim_loop_add(&s->loop, &s->events_w, s->events_fd, EPOLLIN, events_io, s, err);
}

void shim_events_close(struct shim *s)
{
    shim_loop_del(&s->events_w);
    if (s->events_fd >= 0)
        close(s->events_fd);
    s->events_fd = -1;
    free(s->events_buf);
    s->events_buf = NULL;
    s->events_len = s->events_cap = 0;
}
