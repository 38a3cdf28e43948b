/* The VM's events (vmm_ops.read_events; QEMU's come from a QMP monitor, vmm-qemu.c): the
 * answers to a pause or resume of the vCPUs (the run state in state.json), and a
 * write that failed for want of space on the host is recorded in state.json (`error`,
 * what `inspect` shows as State.Error) and written to the container log. The drives
 * report errors to the guest (werror=report, vmm-qemu-argv.c): the container's process
 * gets the I/O error and the VM keeps running. docs/runtime.md. */
#include "shim/shim-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define DISK_FULL_REPEAT_NS (30ull * 1000000000ull) /* a repeated note at most this often */

static void disk_full(struct shim *s, const struct vmm_event *ev)
{
    const char *path = ev->disk < s->cfg.n_disks ? s->cfg.disks[ev->disk].path : NULL;
    uint64_t now = ctr_now_ns();

    s->disk_full_events++;
    if (s->disk_full_ns && now - s->disk_full_ns < DISK_FULL_REPEAT_NS)
        return;
    s->disk_full_ns = now;
    cleanup_free char *msg = ctr_xasprintf(
        "host disk full: %s to the container's disk `%s` failed (no space left on "
        "device); the container sees I/O errors until space is freed on the host",
        ev->operation ? ev->operation : "write", path ? path : (ev->device ? ev->device : "?"));
    log_warn("%s", msg);
    free(s->st.error);
    s->st.error = ctr_xstrdup(msg);
    if (s->phase == SHIM_RUNNING || s->phase == SHIM_EXITED)
        shim_write_state(s, s->phase == SHIM_RUNNING ? BUNDLE_RUNNING : BUNDLE_STOPPED);
    cleanup_free char *line = ctr_xasprintf("container: %s\n", msg);
    shim_logw_flush(&s->log, AGENTC_STDERR); /* a line of its own */
    shim_logw_write(&s->log, AGENTC_STDERR, (const uint8_t *)line, strlen(line));
}

/* The answer to a pause or resume (shim-server.c sent it): the run state in state.json,
 * then the clients waiting for it. */
static void run_state(struct shim *s, const struct vmm_event *ev)
{
    bool paused = ev->kind == VMM_EVENT_PAUSED;

    if (s->vm_cmd == (paused ? SHIM_VM_CMD_PAUSE : SHIM_VM_CMD_RESUME))
        s->vm_cmd = SHIM_VM_CMD_NONE;
    if (ev->error) {
        log_warn("%s: %s failed: %s", s->vmm_ops->name, paused ? "pause" : "resume", ev->error);
    } else {
        s->paused = paused;
        log_info("the vm is %s", paused ? "paused" : "running again");
        if (s->phase == SHIM_RUNNING)
            shim_write_state(s, BUNDLE_RUNNING);
        if (!paused && s->ac.hello_done && !s->ac.failed && s->agent_w.loop) {
            /* the guest's clocks stood still while paused: its wall clock is behind */
            struct agent_request req = {.op = AGENT_OP_CLOCK};
            req.u.clock.time_ns = shim_realtime_ns();
            if (agentc_request(&s->ac, &req, NULL, NULL, NULL) == 0)
                shim_agent_kick(s);
        }
    }
    shim_server_vm_paused(s, paused, ev->error);
}

static void on_event(void *arg, const struct vmm_event *ev)
{
    struct shim *s = arg;

    if (ev->kind == VMM_EVENT_PAUSED || ev->kind == VMM_EVENT_RESUMED) {
        run_state(s, ev);
        return;
    }
    if (ev->kind != VMM_EVENT_DISK_ERROR)
        return;
    if (ev->nospace)
        disk_full(s, ev);
    else
        log_warn("%s: i/o error on `%s`: %s", s->vmm_ops->name, ev->device ?: "?",
                 ev->reason ?: "?");
}

static void events_io(struct shim_watch *w, uint32_t ev)
{
    struct shim *s = w->data;

    if (s->vmm_ops->read_events(&s->vm, on_event, s) == 0) /* the VMM is gone */
        shim_loop_del(w);
}

void shim_events_drain(struct shim *s)
{
    if (s->events_w.loop)
        events_io(&s->events_w, EPOLLIN);
}

int shim_events_watch(struct shim *s, ctr_error_t *err)
{
    int fd = s->vmm_ops->events_fd(&s->vm);
    if (fd < 0)
        return 0;
    return shim_loop_add(&s->loop, &s->events_w, fd, EPOLLIN, events_io, s, err);
}

void shim_events_close(struct shim *s)
{
    shim_loop_del(&s->events_w); /* the VMM's release closes the channel */
}
