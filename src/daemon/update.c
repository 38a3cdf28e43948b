/* POST /containers/{id}/update's resources (api/lifecycle.c parses them): what a VM can
 * take. Memory and NanoCpus are the VM's size: a stopped container gets the new size at
 * its next start; a running VM cannot grow, so a running container takes only a value
 * within what its VM has (kept for the next start too). The other limits (reservation,
 * shares, CFS quota and period, pids) are checked as dockerd does, stored in HostConfig
 * and shown by inspect; the guest applies none of them yet. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

static void set_int(json_t *hc, const char *k, int64_t v)
{
    json_object_set_new(hc, k, json_integer((json_int_t)v));
}

int dmn_container_update_resources(struct dmn *d, const char *ref, const struct dmn_update_res *u,
                                   ctr_error_t *err)
{
    struct dmn_container *c = dmn_container_get(d, ref, err);
    if (c == NULL)
        return -1;
    struct bundle_config bc = {0};
    int ret = -1;
    dmn_op_lock(c);
    if (bundle_config_load(c->bundle, &bc, err) < 0) {
        (*err)->errnum = EIO;
        goto out;
    }
    dmn_lock(d);
    bool running = c->status == DMN_RUNNING;
    bool removing = c->removed || c->status == DMN_REMOVING || c->status == DMN_DEAD;
    json_int_t nano_now = json_integer_value(json_object_get(c->host_config, "NanoCpus"));
    json_int_t mem_now = json_integer_value(json_object_get(c->host_config, "Memory"));
    json_int_t res_now = json_integer_value(json_object_get(c->host_config, "MemoryReservation"));
    dmn_unlock(d);
    uint64_t vm_mem = bc.vm.memory_mib << 20;
    unsigned vm_cpus = bc.vm.cpus == BUNDLE_CPUS_AUTO ? BUNDLE_CPUS_AUTO_KVM : bc.vm.cpus;
    if (removing) {
        dmn_fail(err, EINVAL,
                 "Cannot update container %s: container is marked for removal and cannot be "
                 "\"update\"",
                 c->id);
        goto out;
    }
    if (u->memory && running && (uint64_t)u->memory > vm_mem) {
        dmn_fail(err, EINVAL,
                 "Cannot update container %s: `Memory` %" PRId64 " is above the %" PRIu64
                 " MiB of its running VM, which cannot grow: stop the container, update it, and "
                 "start it again",
                 c->id, u->memory, (uint64_t)bc.vm.memory_mib);
        goto out;
    }
    if (u->nano_cpus && running && (uint64_t)u->nano_cpus > (uint64_t)vm_cpus * 1000000000ull) {
        dmn_fail(err, EINVAL,
                 "Cannot update container %s: `NanoCpus` %" PRId64
                 " is more than the %u vCPUs of its running VM, which cannot grow: stop the "
                 "container, update it, and start it again",
                 c->id, u->nano_cpus, vm_cpus);
        goto out;
    }
    int64_t mem = u->memory ? u->memory : mem_now;
    int64_t res = u->memory_reservation ? u->memory_reservation : res_now;
    if (mem > 0 && res > mem) { /* dockerd's words */
        dmn_fail(err, EINVAL,
                 "Minimum memory limit can not be less than memory reservation limit, see "
                 "usage");
        goto out;
    }
    if ((u->cpu_quota || u->cpu_period) && (u->nano_cpus || nano_now)) {
        dmn_fail(err, EINVAL,
                 "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been "
                 "set");
        goto out;
    }
    /* the next start's VM */
    bool save_bundle = false;
    if (u->memory) {
        bc.vm.memory_mib = ((uint64_t)u->memory + (1u << 20) - 1) >> 20;
        save_bundle = true;
    }
    if (u->nano_cpus) {
        bc.vm.cpus = (unsigned)((u->nano_cpus + 999999999) / 1000000000);
        save_bundle = true;
    }
    if (save_bundle && bundle_config_save(c->bundle, &bc, err) < 0) {
        (*err)->errnum = EIO;
        goto out;
    }
    dmn_lock(d);
    json_t *hc = c->host_config;
    if (u->memory)
        set_int(hc, "Memory", u->memory);
    if (u->memory_reservation)
        set_int(hc, "MemoryReservation", u->memory_reservation);
    if (u->nano_cpus)
        set_int(hc, "NanoCpus", u->nano_cpus);
    if (u->cpu_shares)
        set_int(hc, "CpuShares", u->cpu_shares);
    if (u->cpu_quota)
        set_int(hc, "CpuQuota", u->cpu_quota);
    if (u->cpu_period)
        set_int(hc, "CpuPeriod", u->cpu_period);
    if (u->pids_limit)
        set_int(hc, "PidsLimit", u->pids_limit);
    dmn_container_save_locked(d, c, NULL);
    dmn_event_container_locked(d, c, "update", NULL);
    dmn_unlock(d);
    ret = 0;
out:
    dmn_op_unlock(c);
    bundle_config_release(&bc);
    dmn_container_put(d, c);
    return ret;
}
