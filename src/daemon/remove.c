/* Removal of containers: one (`rm`, stopping it first when forced; also the auto-remove
 * of monitor.c) or every stopped one (prune). It calls into lifecycle.c for the stop,
 * so it sits above the registry (containers.c). */
#include "daemon/daemon-internal.h"
#include "shimc/shimc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dmn_container_remove(struct dmn *d, struct dmn_container *c, bool force, bool volumes,
                         ctr_error_t *err)
{
    int ret = -1;
    cleanup_strv char **anon = NULL;

    dmn_op_lock(c);
    dmn_lock(d);
    if (c->removed || c->status == DMN_REMOVING) {
        dmn_unlock(d);
        dmn_op_unlock(c);
        return 0;
    }
    bool running = c->status == DMN_RUNNING || c->status == DMN_STARTING;
    /* waiting out its restart back-off: moby's IsRunning() holds (State.Restarting) */
    bool restarting = !running && c->restart_pending;
    dmn_unlock(d);
    if (running || restarting) {
        if (!force) {
            dmn_fail(err, EBUSY,
                     "cannot remove container \"/%s\": container is %s: stop the container "
                     "before removing or force remove",
                     c->name, restarting ? "restarting" : "running");
            goto out;
        }
        if (dmn_container_stop_locked_op(d, c, 0, err) < 0)
            goto out;
    }
    dmn_lock(d);
    c->status = DMN_REMOVING;
    pthread_cond_broadcast(&d->cond);
    dmn_unlock(d);
    if (volumes) {
        ctr_error_t e = NULL;
        if (dmn_anonymous_volumes(d, c->bundle, &anon, NULL, NULL, &e) < 0)
            ctr_error_free(&e); /* a bundle without config has none */
    }
    {
        ctr_error_t e = NULL;
        /* a shim that just failed a start may still be writing its last files */
        dmn_wait_shim_gone(c->bundle, 10000);
        if (shimc_delete(c->bundle, true, &e) < 0)
            ctr_error_free(&e);
    }
    if (ctr_rm_rf(c->bundle, err) < 0) {
        ctr_error_free(err);
        usleep(200 * 1000);
        dmn_wait_shim_gone(c->bundle, 5000);
    }
    if (access(c->bundle, F_OK) == 0 && ctr_rm_rf(c->bundle, err) < 0) {
        dmn_lock(d);
        c->status = DMN_DEAD;
        pthread_cond_broadcast(&d->cond);
        dmn_unlock(d);
        ctr_error_wrap(err, "remove container `%s`", c->name);
        goto out;
    }
    /* before the unlink wakes `wait condition=removed` (run --rm) */
    dmn_anonymous_volumes_remove(d, anon);
    dmn_netconf_release(d, c, NULL); /* its addresses go back to the networks' pools */
    dmn_lock(d);
    dmn_execs_drop_locked(d, c->id);
    dmn_event_container_locked(d, c, "destroy", NULL);
    dmn_container_unlink_locked(d, c);
    pthread_cond_broadcast(&d->cond);
    dmn_unlock(d);
    ret = 0;
out:
    dmn_op_unlock(c);
    return ret;
}

void dmn_containers_prune(struct dmn *d, const struct dmn_prune_req *rq, char ***deleted,
                          uint64_t *reclaimed)
{
    struct dmn_container **victims = NULL;
    size_t n = 0;

    *deleted = ctr_xcalloc(1, sizeof(char *));
    *reclaimed = 0;
    dmn_lock(d);
    victims = ctr_xcalloc(d->n_ctrs + 1, sizeof(*victims));
    for (size_t i = 0; i < d->n_ctrs; i++) {
        struct dmn_container *c = d->ctrs[i];
        if (c->creating ||
            (c->status != DMN_EXITED && c->status != DMN_CREATED && c->status != DMN_DEAD) ||
            (rq->match && !rq->match(c, rq->ctx)) || c->created_ns >= rq->until)
            continue;
        c->refs++;
        victims[n++] = c;
    }
    dmn_unlock(d);
    for (size_t i = 0; i < n; i++) {
        ctr_error_t err = NULL;
        uint64_t size = dmn_disk_usage(victims[i]->bundle);
        if (dmn_container_remove(d, victims[i], false, false, &err) == 0) {
            ctr_strv_append(deleted, victims[i]->id);
            *reclaimed += size;
        } else {
            log_warn("prune: %s", err->msg);
            ctr_error_free(&err);
        }
        dmn_container_put(d, victims[i]);
    }
    free(victims);
}
