/* Pause and unpause: the shim stops and continues the VM's vCPUs (docs/runtime.md,
 * "Control socket"), so nothing in the container can notice. The daemon keeps
 * c->paused (the shim's state.json says it too, for a daemon that restarts) and shows
 * it as docker does: State.Paused, the status `paused`, "Up 5 minutes (Paused)". A kill
 * or stop of a paused container resumes it first (lifecycle.c, the shim). */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <errno.h>

const char *dmn_container_state_name(const struct dmn_container *c)
{
    if (c->status == DMN_EXITED && c->restart_pending)
        return "restarting"; /* docker: a scheduled restart shows as restarting */
    return c->status == DMN_RUNNING && c->paused ? "paused" : dmn_status_name(c->status);
}

/* One pause or unpause under c->op_lock, so it never crosses a start, stop or kill. */
static int set_paused_locked_op(struct dmn *d, struct dmn_container *c, bool pause,
                                ctr_error_t *err)
{
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING, paused = running && c->paused;
    dmn_unlock(d);
    /* docker's checks and words (daemon/pause.go, unpause.go) */
    if (pause && !running)
        return dmn_fail(err, EBUSY, "Container %s is not running", c->id);
    if (pause && paused)
        return dmn_fail(err, EBUSY, "Container %s is already paused", c->id);
    if (!pause && !paused)
        return dmn_fail(err, EBUSY, "Container %s is not paused", c->id);
    if ((pause ? shimc_pause(c->bundle, err) : shimc_resume(c->bundle, err)) < 0) {
        if (!dmn_shim_answers(c->bundle)) { /* it ended meanwhile */
            ctr_error_free(err);
            return dmn_fail(err, EBUSY, "Container %s is not running", c->id);
        }
        return ctr_error_wrap(err, "Cannot %s container %s", pause ? "pause" : "unpause", c->id);
    }
    dmn_lock(d);
    if (c->status == DMN_RUNNING) {
        c->paused = pause;
        dmn_event_container_locked(d, c, pause ? "pause" : "unpause", NULL);
        pthread_cond_broadcast(&d->cond);
    }
    dmn_unlock(d);
    log_info("container %.12s %s", c->id, pause ? "paused" : "unpaused");
    return 0;
}

static int set_paused(struct dmn *d, const char *ref, bool pause, ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    dmn_op_lock(c);
    int ret = set_paused_locked_op(d, c, pause, err);
    dmn_op_unlock(c);
    dmn_container_put(d, c);
    return ret;
}

int dmn_container_pause(struct dmn *d, const char *ref, ctr_error_t *err)
{
    return set_paused(d, ref, true, err);
}

int dmn_container_unpause(struct dmn *d, const char *ref, ctr_error_t *err)
{
    return set_paused(d, ref, false, err);
}
