/* System routes: /_ping, /version, /info, /system/df, and the project routes under
 * /container/system/ (status, df, kernel, logs, stop) over the system service
 * (system.c, daemon.c). */
#include "daemon/api/api.h"
#include "image/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int api_handle_ping(struct api_req *r)
{
    /* API-Version, OSType and Docker-Experimental come with every reply (http.c) */
    api_reply_text(r, 200, "text/plain; charset=utf-8", "OK", 2);
    api_reply_header(r, "Builder-Version", "1");
    api_reply_header(r, "Cache-Control", "no-cache, no-store, must-revalidate");
    api_reply_header(r, "Pragma", "no-cache");
    return 0;
}

int api_handle_version(struct api_req *r)
{
    struct utsname u;
    uname(&u);
    return api_reply_json(
        r, 200,
        json_pack("{s:{s:s},s:[{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}],s:s,s:s,s:s,s:s,s:s,"
                  "s:s,s:s,s:s,s:s,s:b}",
                  "Platform", "Name", "container", "Components", "Name", "Engine", "Version",
                  DMN_VERSION, "Details", "ApiVersion", DMN_API_VERSION, "MinAPIVersion", "1.24",
                  "Os", "linux", "Arch", "amd64", "KernelVersion", u.release, "GitCommit", "",
                  "Experimental", "false", "Version", DMN_VERSION, "ApiVersion", DMN_API_VERSION,
                  "MinAPIVersion", "1.24", "GitCommit", "", "GoVersion", "", "Os", "linux", "Arch",
                  "amd64", "KernelVersion", u.release, "BuildTime", "", "Experimental", 0));
}

int api_handle_info(struct api_req *r)
{
    struct dmn *d = r->d;
    struct utsname u;
    struct dmn_counts n;
    char host[256] = "";
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    cleanup_free char *now = NULL;
    struct timespec ts;

    uname(&u);
    gethostname(host, sizeof(host) - 1);
    dmn_system_counts(d, &n);
    clock_gettime(CLOCK_REALTIME, &ts);
    now = dmn_time_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
    json_t *j = json_pack(
        "{s:s,s:I,s:I,s:i,s:I,s:I,s:s,s:[],s:{s:[],s:[s],s:n,s:[s]},s:b,s:b,s:b,s:b,s:b,s:b,"
        "s:b,s:b,s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:[],s:b,s:s}",
        "ID", "container-apiserver", "Containers", (json_int_t)n.total, "ContainersRunning",
        (json_int_t)n.running, "ContainersPaused", (json_int_t)n.paused, "ContainersStopped",
        (json_int_t)n.stopped, "Images", (json_int_t)n.images, "Driver", "ext4", "DriverStatus",
        "Plugins", "Volume", "Network", "bridge", "Authorization", "Log", "json-file",
        "MemoryLimit", 1, "SwapLimit", 0, "CpuCfsPeriod", 0, "CpuCfsQuota", 0, "CPUShares", 0,
        "CPUSet", 0, "PidsLimit", 1, "IPv4Forwarding", d->net_error == NULL, "Debug",
        ctr_log_get_level() >= CTR_LOG_DEBUG, "SystemTime", now, "LoggingDriver", "json-file",
        "CgroupDriver", "none", "CgroupVersion", "2", "KernelVersion", u.release, "OperatingSystem",
        "container (one microVM per container)", "OSVersion", "", "OSType", "linux", "Architecture",
        u.machine, "IndexServerAddress", "https://index.docker.io/v1/", "NCPU",
        (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "MemTotal", (json_int_t)pages * psize,
        "DockerRootDir", ctr_json_str(d->cfg.root), "Name", ctr_json_str(host), "Labels",
        "ExperimentalBuild", 0, "ServerVersion", DMN_VERSION);
    json_object_set_new(
        j, "Runtimes",
        json_pack("{s:{s:o}}", "container-runtime", "path", ctr_json_str(d->cfg.runtime)));
    json_object_set_new(j, "DefaultRuntime", json_string("container-runtime"));
    json_object_set_new(j, "Swarm",
                        json_pack("{s:s,s:s,s:s,s:b,s:s,s:n}", "LocalNodeState", "inactive",
                                  "NodeID", "", "NodeAddr", "", "ControlAvailable", 0, "Error", "",
                                  "RemoteManagers"));
    json_object_set_new(
        j, "RegistryConfig",
        json_pack("{s:[],s:{},s:[]}", "InsecureRegistryCIDRs", "IndexConfigs", "Mirrors"));
    json_object_set_new(j, "LiveRestoreEnabled", json_true());
    json_object_set_new(j, "Isolation", json_string("microvm"));
    json_object_set_new(j, "SecurityOptions", json_array());
    json_object_set_new(j, "Warnings", json_array());
    return api_reply_json(r, 200, j);
}

static json_t *file_info(const char *path, bool digest)
{
    struct dmn_file_info fi;
    dmn_file_info(path, digest, &fi);
    /* host paths (the daemon's options) may hold any byte */
    json_t *j = json_pack("{s:o,s:b,s:I}", "Path", ctr_json_str(path), "Present", fi.present,
                          "Size", (json_int_t)fi.size);
    if (fi.sha256[0])
        json_object_set_new(j, "Sha256", json_string(fi.sha256));
    return j;
}

int api_handle_sys_status(struct api_req *r)
{
    struct dmn *d = r->d;
    struct dmn_counts n;
    cleanup_free char *started = dmn_time_rfc3339(d->started_ns);
    cleanup_free char *kernel = dmn_kernel_path(d);
    cleanup_free char *initrd = dmn_initrd_path(d);
    dmn_system_counts(d, &n);
    return api_reply_json(
        r, 200,
        json_pack("{s:b,s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:I}", "Running", 1, "Version",
                  DMN_VERSION, "ApiVersion", DMN_API_VERSION, "Pid", (int)getpid(), "StartedAt",
                  started, "DataRoot", d->cfg.root, "RunRoot", d->cfg.run_root, "Socket",
                  d->cfg.socket, "Kernel", file_info(kernel, false), "Initrd",
                  file_info(initrd, false), "Containers", (json_int_t)n.total, "ContainersRunning",
                  (json_int_t)n.running, "Images", (json_int_t)n.images));
}

int api_handle_sys_df(struct api_req *r)
{
    struct dmn_usage u;
    dmn_system_usage(r->d, &u);
    return api_reply_json(r, 200,
                          json_pack("{s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I},s:I,s:I,s:I}",
                                    "Images", "Count", (json_int_t)u.counts.images, "Active",
                                    (json_int_t)0, "Size", (json_int_t)(u.content + u.snapshots),
                                    "Reclaimable", (json_int_t)0, "Containers", "Count",
                                    (json_int_t)u.counts.total, "Active",
                                    (json_int_t)(u.counts.running + u.counts.paused), "Size",
                                    (json_int_t)u.containers, "Reclaimable",
                                    (json_int_t)(u.containers - u.containers_active), "Content",
                                    (json_int_t)u.content, "Snapshots", (json_int_t)u.snapshots,
                                    "Kernel", (json_int_t)u.kernel));
}

int api_handle_sys_kernel(struct api_req *r)
{
    struct dmn *d = r->d;
    ctr_error_t err = NULL;

    if (strcmp(r->method, "POST") == 0) {
        const char *ct = api_header(r, "Content-Type");
        int rc;
        if (ct && strncmp(ct, "application/json", 16) == 0) {
            char body[8192];
            ssize_t n = pread(r->upload_fd, body, sizeof(body) - 1, 0);
            json_t *j = n > 0 ? json_loadb(body, (size_t)n, 0, NULL) : NULL;
            const char *bin = json_string_value(json_object_get(j, "Binary"));
            if (bin == NULL || bin[0] != '/') {
                json_decref(j);
                return api_reply_error(r, 400, "`Binary` must be the absolute path of a kernel");
            }
            rc = dmn_kernel_install_file(d, bin, &err);
            json_decref(j);
        } else {
            rc = dmn_kernel_install(d, r->upload_fd, &err);
        }
        if (rc < 0)
            return api_reply_ctr_error(r, &err);
    }
    cleanup_free char *k = dmn_kernel_path(d);
    return api_reply_json(r, 200, file_info(k, true));
}

static bool client_gone(void *ctx)
{
    return ctr_fd_peer_gone(*(int *)ctx);
}

struct logtail {
    struct dmn_logtail *t;
    int client_fd;
};

static ssize_t logtail_fill(void *ctx, char *buf, size_t max)
{
    struct logtail *lt = ctx;
    return dmn_logtail_read(lt->t, buf, max, client_gone, &lt->client_fd);
}

static void logtail_free(void *ctx)
{
    struct logtail *lt = ctx;
    dmn_logtail_free(lt->t);
    free(lt);
}

int api_handle_sys_logs(struct api_req *r)
{
    ctr_error_t err = NULL;
    struct dmn_logtail *t = NULL;
    const char *tail = api_query(r, "tail");
    bool tail_given = tail && *tail && strcmp(tail, "all") != 0;

    if (dmn_logtail_open(r->d, tail_given, tail_given ? atol(tail) : 0, api_query_bool(r, "follow"),
                         &t, &err) < 0)
        return api_reply_ctr_error(r, &err);
    struct logtail *lt = ctr_xcalloc(1, sizeof(*lt));
    lt->t = t;
    lt->client_fd = api_req_fd(r);
    return api_reply_stream(r, 200, "text/plain; charset=utf-8", logtail_fill, lt, logtail_free);
}

int api_handle_sys_stop(struct api_req *r)
{
    ctr_error_t err = NULL;
    const char *t = api_query(r, "t");
    if (dmn_request_stop(r->d, api_query_bool(r, "containers"), t && *t ? atoi(t) : 10, &err) < 0)
        return api_reply_ctr_error(r, &err);
    return api_reply_empty(r, 204);
}

/* A container of /system/df: its list summary with SizeRw (under d->lock). */
static void df_container(struct dmn *d, struct dmn_container *c, void *ctx)
{
    json_t *s = api_container_summary_json(d, c);
    json_object_set_new(s, "SizeRw", json_integer((json_int_t)dmn_disk_usage(c->bundle)));
    json_object_set_new(s, "SizeRootFs", json_integer(0));
    json_array_append_new(ctx, s);
}

/* Docker's GET /system/df: images (summaries with their container count),
 * containers (with SizeRw = their bundle's allocated bytes). */
int api_handle_df(struct api_req *r)
{
    struct dmn *d = r->d;
    cleanup_free char *content = ctr_xasprintf("%s/content", d->cfg.root);
    json_t *images = json_array(), *ctrs = json_array();
    struct dmn_image *v = NULL;
    size_t n = 0;
    ctr_error_t err = NULL;

    if (dmn_images_list(d, true, &v, &n, &err) < 0)
        ctr_error_free(&err);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(images,
                              json_pack("{s:s,s:s,s:o,s:[],s:I,s:I,s:I,s:I,s:{},s:I}", "Id",
                                        v[i].img.manifest_digest, "ParentId", "", "RepoTags",
                                        dmn_strv_json(v[i].names), "RepoDigests", "Created",
                                        (json_int_t)(v[i].stored_ns / 1000000000), "Size",
                                        (json_int_t)v[i].img.size, "SharedSize", (json_int_t)0,
                                        "VirtualSize", (json_int_t)v[i].img.size, "Labels",
                                        "Containers", (json_int_t)v[i].containers));
    dmn_images_free(v, n);
    dmn_system_containers(d, df_container, ctrs);
    return api_reply_json(r, 200,
                          json_pack("{s:I,s:o,s:o,s:[],s:[]}", "LayersSize",
                                    (json_int_t)dmn_disk_usage(content), "Images", images,
                                    "Containers", ctrs, "Volumes", "BuildCache"));
}

/* Swarm routes (/swarm, /nodes, /services, /tasks, /secrets, /configs): this daemon
 * is never part of a swarm, so each answers as Docker's daemon does on a node that
 * is not: 503 with moby's messages (daemon/cluster: errNoManager, errNoSwarm). */
int api_handle_swarm(struct api_req *r)
{
    if (strcmp(r->path, "/swarm/leave") == 0)
        return api_reply_error(r, 503, "This node is not part of a swarm");
    if (strcmp(r->path, "/swarm/init") == 0 || strcmp(r->path, "/swarm/join") == 0)
        return api_reply_error(r, 503,
                               "swarm mode is not supported by this daemon: it cannot %s a "
                               "swarm",
                               r->path[7] == 'i' ? "initialize" : "join");
    return api_reply_error(r, 503,
                           "This node is not a swarm manager. Use \"docker swarm init\" or "
                           "\"docker swarm join\" to connect this node to swarm and try again.");
}
