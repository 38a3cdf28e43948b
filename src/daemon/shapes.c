/* Docker's JSON shapes and value formats: times, filters, the container
 * summary (`docker ps`) and inspect documents, the multiplexed stream header. */
#include "daemon/daemon-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *dmn_time_rfc3339(int64_t ns)
{
    struct tm tm;
    time_t t;
    char date[64], frac[16] = "";
    long sub;

    if (ns <= 0)
        return ctr_xstrdup("0001-01-01T00:00:00Z");
    t = (time_t)(ns / 1000000000);
    sub = (long)(ns % 1000000000);
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    if (sub) {
        /* Go's RFC3339Nano: trailing zeros dropped */
        snprintf(frac, sizeof(frac), ".%09ld", sub);
        size_t l = strlen(frac);
        while (l > 1 && frac[l - 1] == '0')
            frac[--l] = '\0';
    }
    return ctr_xasprintf("%s%sZ", date, frac);
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int dmn_time_parse(const char *s, int64_t *ns)
{
    const char *p = s;
    int64_t frac_ns = 0;
    int scale = 100000000;

    if (s == NULL || *s == '\0')
        return -1;
    if (strspn(s, "0123456789.") == strlen(s)) {
        /* unix seconds[.nanoseconds], as docker's GetTimestamp sends them */
        char *end;
        errno = 0;
        long long sec = strtoll(s, &end, 10);
        if (errno || end == s)
            return -1;
        if (*end == '.') {
            for (end++; *end >= '0' && *end <= '9'; end++) {
                frac_ns += (*end - '0') * (int64_t)scale;
                scale /= 10;
            }
        }
        if (*end != '\0')
            return -1;
        *ns = (int64_t)sec * 1000000000 + frac_ns;
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h, mi, se;
    if (parse_digits(&p, 4, &y) < 0 || *p++ != '-' || parse_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        parse_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &mi) < 0 || *p++ != ':' ||
        parse_digits(&p, 2, &se) < 0)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            frac_ns += (*p - '0') * (int64_t)scale;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *ns = ((int64_t)timegm(&tm) - off) * 1000000000 + frac_ns;
    return 0;
}

/* ---- filters ---- */

int dmn_filters_parse(const char *s, struct dmn_filters *out, ctr_error_t *err)
{
    json_error_t je;
    const char *key;
    json_t *v;

    out->f = json_object();
    if (s == NULL || *s == '\0')
        return 0;
    json_t *in = json_loads(s, 0, &je);
    if (in == NULL || !json_is_object(in)) {
        json_decref(in);
        return dmn_fail(err, EINVAL,
                        "invalid filter: `filters` must be a JSON object such as "
                        "{\"status\":[\"running\"]}");
    }
    json_object_foreach(in, key, v)
    {
        json_t *arr = json_array();
        if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    dmn_fail(err, EINVAL, "invalid filter `%s`: values must be strings", key);
                    json_decref(arr);
                    json_decref(in);
                    return -1;
                }
                json_array_append(arr, e);
            }
        } else if (json_is_object(v)) {
            /* the older shape: {"status": {"running": true}} */
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                if (json_is_true(v2))
                    json_array_append_new(arr, json_string(k2));
            }
        } else {
            dmn_fail(err, EINVAL, "invalid filter `%s`: expected a list of values", key);
            json_decref(arr);
            json_decref(in);
            return -1;
        }
        json_object_set_new(out->f, key, arr);
    }
    json_decref(in);
    return 0;
}

void dmn_filters_release(struct dmn_filters *f)
{
    json_decref(f->f);
    f->f = NULL;
}

int dmn_filters_check(const struct dmn_filters *f, const char *const *allowed, ctr_error_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(f->f, key, v)
    {
        size_t i;
        for (i = 0; allowed[i] && strcmp(allowed[i], key) != 0; i++)
            ;
        if (allowed[i] == NULL)
            return dmn_fail(err, EINVAL, "invalid filter '%s'", key);
    }
    return 0;
}

bool dmn_filters_has(const struct dmn_filters *f, const char *key)
{
    json_t *a = json_object_get(f->f, key);
    return a && json_array_size(a) > 0;
}

bool dmn_filters_any(const struct dmn_filters *f, const char *key,
                     bool (*match)(const char *value, void *ctx), void *ctx)
{
    json_t *a = json_object_get(f->f, key), *e;
    size_t i;
    if (a == NULL || json_array_size(a) == 0)
        return true;
    json_array_foreach(a, i, e)
    {
        if (match(json_string_value(e), ctx))
            return true;
    }
    return false;
}

bool dmn_filters_labels(const struct dmn_filters *f, json_t *labels)
{
    json_t *a = json_object_get(f->f, "label"), *e;
    size_t i;
    json_array_foreach(a, i, e)
    {
        const char *want = json_string_value(e);
        const char *eq = strchr(want, '=');
        cleanup_free char *k = eq ? ctr_xstrndup(want, (size_t)(eq - want)) : ctr_xstrdup(want);
        json_t *have = json_object_get(labels, k);
        if (have == NULL)
            return false;
        if (eq && strcmp(json_string_value(have) ? json_string_value(have) : "", eq + 1) != 0)
            return false;
    }
    return true;
}

/* ---- containers ---- */

const char *dmn_status_name(enum dmn_status s)
{
    switch (s) {
    case DMN_CREATED:
        return "created";
    case DMN_STARTING:
        return "created"; /* docker: created until the process runs */
    case DMN_RUNNING:
        return "running";
    case DMN_EXITED:
        return "exited";
    case DMN_REMOVING:
        return "removing";
    case DMN_DEAD:
        return "dead";
    }
    return "unknown";
}

json_t *dmn_strv_json(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char **dmn_json_strv(json_t *a)
{
    size_t i;
    json_t *e;
    if (!json_is_array(a))
        return NULL;
    char **v = ctr_xcalloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach(a, i, e) v[i] = ctr_xstrdup(json_is_string(e) ? json_string_value(e) : "");
    return v;
}

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
        return ctr_xasprintf("Up %s", dur);
    case DMN_EXITED:
        dur = human_duration((now - c->finished_ns) / 1000000000);
        return ctr_xasprintf("Exited (%d) %s ago", c->exit_code, dur);
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

json_t *dmn_container_state_json(struct dmn_container *c)
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
    return json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:o,s:s,s:s}", "Status",
                     dmn_status_name(c->status), "Running", c->status == DMN_RUNNING, "Paused", 0,
                     "Restarting", 0, "OOMKilled", 0, "Dead", c->status == DMN_DEAD, "Pid",
                     c->status == DMN_RUNNING ? c->pid : 0, "ExitCode", c->exit_code, "Error",
                     ctr_json_str(c->error        ? c->error
                                  : running_error ? running_error
                                                  : ""),
                     "StartedAt", started, "FinishedAt", finished);
}

/* NetworkMode as created: the name given (`default` when none was). */
static const char *network_mode(struct dmn_container *c)
{
    const char *nm = json_string_value(json_object_get(c->host_config, "NetworkMode"));
    return nm && *nm ? nm : "default";
}

json_t *dmn_container_summary_json(struct dmn *d, struct dmn_container *c)
{
    cleanup_free char *name = ctr_xasprintf("/%s", c->name);
    cleanup_free char *cmd = command_line(c);
    cleanup_free char *st = status_text(c);
    json_t *labels = json_object_get(c->config, "Labels");
    return json_pack("{s:s,s:[s],s:s,s:s,s:s,s:I,s:o,s:o,s:s,s:s,s:{s:s},s:{s:o},s:o}", "Id", c->id,
                     "Names", name, "Image", c->image, "ImageID", c->image_id ? c->image_id : "",
                     "Command", cmd, "Created", (json_int_t)(c->created_ns / 1000000000), "Ports",
                     dmn_netconf_ports_list_json(c), "Labels",
                     labels ? json_incref(labels) : json_object(), "State",
                     dmn_status_name(c->status), "Status", st, "HostConfig", "NetworkMode",
                     network_mode(c), "NetworkSettings", "Networks", dmn_netconf_networks_json(c),
                     "Mounts", dmn_container_mounts_json(d, c));
}

json_t *dmn_container_inspect_json(struct dmn *d, struct dmn_container *c)
{
    cleanup_free char *created = dmn_time_rfc3339(c->created_ns);
    cleanup_free char *name = ctr_xasprintf("/%s", c->name);
    cleanup_free char *logpath = ctr_xasprintf("%s/container.log", c->bundle);
    json_t *execs = json_array();
    json_t *nets = dmn_netconf_networks_json(c);
    /* the top-level address fields are the first network's, as docker's for `bridge` */
    json_t *first = c->n_eps ? json_object_get(nets, c->eps[0].net_name) : NULL;
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
        "{s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:O,"
        "s:{s:s,s:n},s:o,s:O,s:{s:s,s:s,s:b,s:o,s:s,s:n,s:n,s:s,s:s,s:i,s:s,s:i,s:s,s:o}}",
        "Id", c->id, "Created", created, "Path", c->path, "Args", dmn_strv_json(c->args), "State",
        dmn_container_state_json(c), "Image", c->image_id ? c->image_id : "", "ResolvConfPath", "",
        "HostnamePath", "", "HostsPath", "", "LogPath", logpath, "Name", name, "RestartCount",
        c->restart_count, "Driver", "ext4", "Platform", "linux", "MountLabel", "", "ProcessLabel",
        "", "AppArmorProfile", "", "ExecIDs", execs, "HostConfig", c->host_config, "GraphDriver",
        "Name", "ext4", "Data", "Mounts", dmn_container_mounts_json(d, c), "Config", c->config,
        "NetworkSettings", "Bridge", "", "SandboxID", "", "HairpinMode", 0, "Ports",
        dmn_netconf_ports_json(c), "SandboxKey", "", "SecondaryIPAddresses",
        "SecondaryIPv6Addresses", "EndpointID", epid, "Gateway", gw, "IPPrefixLen", prefix,
        "IPAddress", ip, "GlobalIPv6PrefixLen", 0, "MacAddress", mac, "Networks", nets);
}

void dmn_mux_header(uint8_t hdr[8], int stream, uint32_t len)
{
    hdr[0] = (uint8_t)stream;
    hdr[1] = hdr[2] = hdr[3] = 0;
    hdr[4] = (uint8_t)(len >> 24);
    hdr[5] = (uint8_t)(len >> 16);
    hdr[6] = (uint8_t)(len >> 8);
    hdr[7] = (uint8_t)len;
}
