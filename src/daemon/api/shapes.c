/* Docker's container documents: the summary of `docker ps` and inspect's, with the
 * state and the human status text ("Up 5 minutes"). Called under d->lock. */
#include "daemon/api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* docker's units.HumanDuration */
static char *human_duration(int64_t sec)
{
    if (sec < 1)
        return ctr_xstrdup("Less than a second");
    if (sec == 1)
        return ctr_xstrdup("1 second");
    if (sec < 60)
        return ctr_xasprintf("%lld seconds", (long long)sec);
    int64_t min = sec / 60;
    if (min == 1)
        return ctr_xstrdup("About a minute");
    if (min < 60)
        return ctr_xasprintf("%lld minutes", (long long)min);
    int64_t h = (int64_t)((double)sec / 3600 + 0.5);
    if (h == 1)
        return ctr_xstrdup("About an hour");
    if (h < 48)
        return ctr_xasprintf("%lld hours", (long long)h);
    if (h < 24 * 7 * 2)
        return ctr_xasprintf("%lld days", (long long)(h / 24));
    if (h < 24 * 30 * 2)
        return ctr_xasprintf("%lld weeks", (long long)(h / 24 / 7));
    if (h < 24 * 365 * 2)
        return ctr_xasprintf("%lld months", (long long)(h / 24 / 30));
    return ctr_xasprintf("%lld years", (long long)(h / 24 / 365));
}

static int64_t now_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *status_text(struct dmn_container *c)
{
    int64_t now = now_real_ns();
    cleanup_free char *dur = NULL;
    switch (c->status) {
    case DMN_RUNNING:
        dur = human_duration((now - c->started_ns) / 1000000000);
        if (c->paused)
            return ctr_xasprintf("Up %s (Paused)", dur);
        if (c->health.status == DMN_HEALTH_STARTING)
            return ctr_xasprintf("Up %s (health: starting)", dur);
        if (c->health.status != DMN_HEALTH_NONE)
            return ctr_xasprintf("Up %s (%s)", dur, dmn_health_status_name(c->health.status));
        return ctr_xasprintf("Up %s", dur);
    case DMN_EXITED:
        dur = human_duration((now - c->finished_ns) / 1000000000);
        return ctr_xasprintf("%s (%d) %s ago", c->restart_pending ? "Restarting" : "Exited",
                             c->exit_code, dur);
    case DMN_REMOVING:
        return ctr_xstrdup("Removal In Progress");
    case DMN_DEAD:
        return ctr_xstrdup("Dead");
    default:
        return ctr_xstrdup("Created");
    }
}

static char *command_line(struct dmn_container *c)
{
    size_t len = strlen(c->path) + 1;
    for (size_t i = 0; c->args && c->args[i]; i++)
        len += strlen(c->args[i]) + 1;
    char *s = ctr_xmalloc(len + 1);
    strcpy(s, c->path);
    for (size_t i = 0; c->args && c->args[i]; i++) {
        strcat(s, " ");
        strcat(s, c->args[i]);
    }
    return s;
}

/* State.Health: moby's types.Health */
static json_t *health_json(const struct dmn_health *h)
{
    json_t *log = json_array();
    for (size_t i = 0; i < h->n_log; i++) {
        cleanup_free char *start = dmn_time_rfc3339(h->log[i].start_ns);
        cleanup_free char *end = dmn_time_rfc3339(h->log[i].end_ns);
        json_array_append_new(log, json_pack("{s:s,s:s,s:i,s:o}", "Start", start, "End", end,
                                             "ExitCode", h->log[i].exit_code, "Output",
                                             ctr_json_str(h->log[i].output)));
    }
    return json_pack("{s:s,s:i,s:o}", "Status", dmn_health_status_name(h->status), "FailingStreak",
                     h->failing_streak, "Log", log);
}

json_t *api_container_state_json(struct dmn_container *c)
{
    cleanup_free char *started = dmn_time_rfc3339(c->started_ns);
    cleanup_free char *finished = dmn_time_rfc3339(c->finished_ns);
    /* Error is the shim's text (QEMU's stderr): any byte. */
    cleanup_free char *running_error = NULL;
    if (c->status == DMN_RUNNING && c->error == NULL && c->bundle) {
        /* a problem the shim saw while the container runs (a full host disk) */
        struct bundle_state st = {0};
        if (bundle_state_load(c->bundle, &st, NULL) == 0)
            running_error = ctr_steal_ptr(st.error);
        bundle_state_release(&st);
    }
    /* docker: a restarting container counts as running, without a process */
    bool restarting = c->restart_pending && c->status == DMN_EXITED;
    json_t *st =
        json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:o,s:s,s:s}", "Status",
                  dmn_container_state_name(c), "Running", c->status == DMN_RUNNING || restarting,
                  "Paused", c->status == DMN_RUNNING && c->paused, "Restarting", restarting,
                  "OOMKilled", 0, "Dead", c->status == DMN_DEAD, "Pid",
                  c->status == DMN_RUNNING ? c->pid : 0, "ExitCode", c->exit_code, "Error",
                  ctr_json_str(c->error        ? c->error
                               : running_error ? running_error
                                               : ""),
                  "StartedAt", started, "FinishedAt", finished);
    if (c->health.status != DMN_HEALTH_NONE)
        json_object_set_new(st, "Health", health_json(&c->health));
    return st;
}

/* NetworkMode as created: the name given (`default` when none was). */
static const char *network_mode(struct dmn_container *c)
{
    const char *nm = json_string_value(json_object_get(c->host_config, "NetworkMode"));
    return nm && *nm ? nm : "default";
}

json_t *api_container_summary_json(struct dmn *d, struct dmn_container *c)
{
    cleanup_free char *name = ctr_xasprintf("/%s", c->name);
    cleanup_free char *cmd = command_line(c);
    cleanup_free char *st = status_text(c);
    json_t *labels = json_object_get(c->config, "Labels");
    return json_pack("{s:s,s:[s],s:s,s:s,s:s,s:I,s:o,s:o,s:s,s:s,s:{s:s},s:{s:o},s:o}", "Id", c->id,
                     "Names", name, "Image", c->image, "ImageID", c->image_id ? c->image_id : "",
                     "Command", cmd, "Created", (json_int_t)(c->created_ns / 1000000000), "Ports",
                     api_netconf_ports_list_json(c), "Labels",
                     labels ? json_incref(labels) : json_object(), "State",
                     dmn_container_state_name(c), "Status", st, "HostConfig", "NetworkMode",
                     network_mode(c), "NetworkSettings", "Networks", api_netconf_networks_json(c),
                     "Mounts", api_container_mounts_json(d, c));
}

/* HostConfig as created, with the restart policy as it is now (docker update). */
static json_t *host_config_json(struct dmn_container *c)
{
    json_t *hc = json_copy(c->host_config);
    const char *stored =
        json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"), "Name"));
    if (c->restart.name == DMN_RESTART_NO && stored && (*stored == '\0' || !strcmp(stored, "no")))
        return hc; /* none, as the client wrote it */
    json_object_set_new(hc, "RestartPolicy",
                        json_pack("{s:s,s:i}", "Name", dmn_restart_policy_name(c->restart.name),
                                  "MaximumRetryCount", c->restart.max_retries));
    return hc;
}

json_t *api_container_inspect_json(struct dmn *d, struct dmn_container *c)
{
    cleanup_free char *created = dmn_time_rfc3339(c->created_ns);
    cleanup_free char *name = ctr_xasprintf("/%s", c->name);
    const char *driver =
        json_string_value(json_object_get(json_object_get(c->host_config, "LogConfig"), "Type"));
    cleanup_free char *logpath = driver && strcmp(driver, "none") == 0
                                     ? ctr_xstrdup("") /* Docker's: no log file */
                                     : ctr_xasprintf("%s/container.log", c->bundle);
    json_t *execs = json_array();
    json_t *nets = api_netconf_networks_json(c);
    /* the top-level address fields are the first network's, as docker's for `bridge` */
    json_t *first = c->n_eps ? json_object_get(nets, api_netconf_network_name(&c->eps[0])) : NULL;
    const char *ip = first ? json_string_value(json_object_get(first, "IPAddress")) : "";
    const char *gw = first ? json_string_value(json_object_get(first, "Gateway")) : "";
    const char *mac = first ? json_string_value(json_object_get(first, "MacAddress")) : "";
    const char *epid = first ? json_string_value(json_object_get(first, "EndpointID")) : "";
    int prefix = c->n_eps ? c->eps[0].prefix : 0;

    for (struct dmn_exec *e = d->execs; e; e = e->next)
        if (strcmp(e->container_id, c->id) == 0 && e->running)
            json_array_append_new(execs, json_string(e->id));
    if (json_array_size(execs) == 0) {
        json_decref(execs);
        execs = json_null();
    }
    return json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:o,"
        "s:{s:s,s:n},s:o,s:O,s:{s:s,s:s,s:b,s:o,s:s,s:n,s:n,s:s,s:s,s:i,s:s,s:i,s:s,s:o}}",
        "Id", c->id, "Created", created, "Path", c->path, "Args", dmn_strv_json(c->args), "State",
        api_container_state_json(c), "Image", c->image_id ? c->image_id : "", "ResolvConfPath", "",
        "HostnamePath", "", "HostsPath", "", "LogPath", logpath, "Name", name, "RestartCount",
        c->restart_count, "Driver", "ext4", "Platform", "linux", "MountLabel", "", "ProcessLabel",
        "", "AppArmorProfile", "", "ExecIDs", execs, "HostConfig", host_config_json(c),
        "GraphDriver", "Name", "ext4", "Data", "Mounts", api_container_mounts_json(d, c), "Config",
        c->config, "NetworkSettings", "Bridge", "", "SandboxID", "", "HairpinMode", 0, "Ports",
        api_netconf_ports_json(c), "SandboxKey", "", "SecondaryIPAddresses",
        "SecondaryIPv6Addresses", "EndpointID", epid, "Gateway", gw, "IPPrefixLen", prefix,
        "IPAddress", ip, "GlobalIPv6PrefixLen", 0, "MacAddress", mac, "Networks", nets);
}
