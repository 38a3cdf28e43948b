/* libFuzzer target: the daemon's HTTP edge. Each input is the raw bytes a client writes on
 * the API socket (request line with method, path and query, headers, body; several requests
 * when pipelined), sent to the real daemon (dmn_run: libmicrohttpd, router, handlers)
 * running in this process, whose runtime is faked: a script that fails every `start` at
 * once, so no VM ever boots.
 *
 * LLVMFuzzerInitialize moves the process into a network namespace of its own (the daemon
 * makes its bridges and nft table there; nothing reaches the host's network), makes a data
 * root and a run root under $TMPDIR, starts the daemon in a thread and gives it fixtures
 * through the API: the image in $FUZZ_HTTP_IMAGE (an OCI layout as a tar, loaded with
 * POST /images/load), a container `fz`, a volume `fzvol` and a network `fznet`. Every
 * FUZZ_HOUSEKEEP inputs, prunes (through the API) drop what the inputs made and the
 * fixtures come back, so the data root stays small over a long run.
 *
 * Per input: connect, write the bytes, half-close, read the reply until the daemon closes
 * (a stream that pauses, such as /events, is abandoned IDLE_MS after its last byte). A
 * daemon that stops accepting connections or stops answering /_ping aborts the run. Inputs
 * that ask the daemon to stop (`system/stop` in the path) are skipped. Built and run by
 * tests/fuzz/run.sh http; FUZZ_HTTP_LOG=PATH keeps the daemon's log (debug level),
 * FUZZ_HTTP_SLOW=MS prints the request line of every input that took MS or more. */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FIRST_MS 1000       /* the reply's first byte may take this long (a create) */
#define IDLE_MS 10          /* then a pause this long is a stream (/events): give up */
#define TOTAL_MS 3000       /* one input at most */
#define FIXTURE_MS 200      /* the first byte of a fixture's check (see fixtures) */
#define PING_EVERY 256      /* inputs between liveness checks */
#define FUZZ_HOUSEKEEP 1000 /* inputs between prunes */

static char base[PATH_MAX];
static char sock_path[PATH_MAX];
static struct dmn_config cfg;
static char *image_tar;
static size_t image_tar_len;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "fuzz-http: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    abort();
}

static int connect_daemon(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    int64_t end = now_ms() + 5000;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        int e = errno;
        close(fd);
        if (now_ms() > end)
            die("the daemon stopped accepting connections: %s", strerror(e));
        usleep(10 * 1000); /* backlog full or still starting: only then */
    }
}

/* Send req, half-close, collect the reply (up to cap bytes kept in out, NUL-terminated).
 * Returns the bytes received, or -1 when the daemon kept the connection idle. */
static ssize_t exchange(const void *req, size_t len, char *out, size_t cap, int first_ms)
{
    int fd = connect_daemon();
    size_t sent = 0, got = 0;
    bool shut = false, closed = false;
    int64_t start = now_ms(), last = start;

    if (out && cap)
        out[0] = '\0';
    while (!closed) {
        int64_t t = now_ms();
        if (t - last > (got ? IDLE_MS : first_ms) || t - start > TOTAL_MS)
            break;
        if (sent == len && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        if (poll(&p, 1, got ? IDLE_MS : 50) < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        if (p.revents & POLLOUT) {
            ssize_t n = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                last = now_ms();
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                sent = len; /* the daemon closed early (an error reply): read it */
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[65536];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                if (out && got + 1 < cap) {
                    size_t k = (size_t)n < cap - 1 - got ? (size_t)n : cap - 1 - got;
                    memcpy(out + got, buf, k);
                    out[got + k] = '\0';
                }
                got += (size_t)n;
                last = now_ms();
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                closed = true;
            }
        }
    }
    close(fd);
    return closed ? (ssize_t)got : -1;
}

static int status_of(const char *reply)
{
    int st = 0;
    if (sscanf(reply, "HTTP/1.%*d %d", &st) != 1)
        return 0;
    return st;
}

/* One request made here; returns the status (0 when none came). */
static int request_wait(const char *method, const char *path, const char *body, size_t body_len,
                        int first_ms)
{
    char *req = NULL;
    char reply[4096];
    int n = asprintf(&req,
                     "%s %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, body_len);
    if (n < 0)
        abort();
    req = realloc(req, (size_t)n + body_len);
    if (body_len)
        memcpy(req + n, body, body_len);
    ssize_t r = exchange(req, (size_t)n + body_len, reply, sizeof(reply), first_ms);
    free(req);
    return r < 0 ? 0 : status_of(reply);
}

static int request(const char *method, const char *path, const char *body, size_t body_len)
{
    return request_wait(method, path, body, body_len, FIRST_MS);
}

static int request_json(const char *method, const char *path, const char *json)
{
    return request(method, path, json, json ? strlen(json) : 0);
}

static void ping(void)
{
    int64_t end = now_ms() + 10000;
    while (request_json("GET", "/_ping", NULL) != 200) {
        if (now_ms() > end)
            die("the daemon no longer answers %s", "GET /_ping");
        usleep(50 * 1000);
    }
}

/* The fixtures every input may refer to; made again when an input removed them. */
enum { FX_IMAGE = 1, FX_VOLUME = 2, FX_CONTAINER = 4, FX_NETWORK = 8, FX_ALL = 15 };

static void fixtures(unsigned which)
{
    /* A pull holds the daemon's image lock through its connection retries (about 1.4 s to
     * an unreachable registry), and image checks and creates wait for it: a fixture request
     * that does not answer within FIXTURE_MS is left to finish on its own, and a check
     * without an answer is not a removal (the next housekeeping looks again). */
    if ((which & FX_IMAGE) && image_tar &&
        request_wait("GET", "/images/busybox:latest/json", NULL, 0, FIXTURE_MS) == 404)
        request("POST", "/images/load", image_tar, image_tar_len);
    if (which & FX_VOLUME)
        request_wait("POST", "/volumes/create", "{\"Name\":\"fzvol\"}", 16, FIXTURE_MS);
    if ((which & FX_CONTAINER) &&
        request_wait("GET", "/containers/fz/json", NULL, 0, FIXTURE_MS) == 404) {
        static const char body[] =
            "{\"Image\":\"busybox\",\"Cmd\":[\"sh\"],\"Tty\":true,\"OpenStdin\":true,"
            "\"HostConfig\":{\"Binds\":[\"fzvol:/data\"]}}";
        request_wait("POST", "/containers/create?name=fz", body, sizeof(body) - 1, FIXTURE_MS);
    }
    if ((which & FX_NETWORK) && request_wait("GET", "/networks/fznet", NULL, 0, FIXTURE_MS) == 404)
        request_json("POST", "/networks/create", "{\"Name\":\"fznet\"}");
}

static void housekeeping(void)
{
    request_json("POST", "/containers/prune", NULL);
    request_json("POST", "/volumes/prune?filters=%7B%22all%22%3A%5B%22true%22%5D%7D", NULL);
    request_json("POST", "/networks/prune", NULL);
    fixtures(FX_ALL);
}

static void *daemon_thread(void *arg)
{
    ctr_error_t err = NULL;
    if (dmn_run(&cfg, &err) < 0)
        die("the daemon failed: %s", err->msg);
    die("the daemon stopped (%s)", "an input asked it to");
    return NULL;
}

static char *path_in(const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", base, name) < 0)
        abort();
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        die("cannot write `%s`", path);
}

static void remove_base(void)
{
    char *cmd = NULL;
    if (base[0] && asprintf(&cmd, "rm -rf '%s'", base) >= 0 && system(cmd) != 0)
        fprintf(stderr, "fuzz-http: could not remove `%s`\n", base);
    free(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof(base), "%s/fuzz-http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(base) == NULL)
        die("mkdtemp: %s", strerror(errno));
    atexit(remove_base);
    /* Before any thread: bridges, nft rules and every packet stay in this namespace. */
    if (unshare(CLONE_NEWNET) < 0)
        die("cannot make a network namespace (needs root): %s", strerror(errno));

    cfg.root = path_in("data");
    cfg.run_root = path_in("run");
    cfg.runtime = path_in("container-runtime");
    cfg.kernel = path_in("vmlinux");
    cfg.initrd = path_in("initramfs.cpio");
    cfg.default_memory = "256m";
    cfg.default_cpus = "1";
    cfg.accel = "tcg";
    mkdir(cfg.root, 0711);
    mkdir(cfg.run_root, 0755);
    snprintf(sock_path, sizeof(sock_path), "%s/container.sock", cfg.run_root);
    cfg.socket = sock_path;
    write_file(cfg.runtime,
               "#!/bin/sh\necho 'container-runtime: the fuzz harness boots no VM' >&2\nexit 1\n",
               0755);
    write_file(cfg.kernel, "not a kernel\n", 0644);
    write_file(cfg.initrd, "not an initramfs\n", 0644);
    char *resolv = path_in("resolv.conf"); /* the DNS servers forward nothing */
    write_file(resolv, "", 0644);
    setenv("CONTAINER_DNS_UPSTREAM", resolv, 1);
    free(resolv);

    ctr_log_set_prog("container-apiserver");
    const char *logf = getenv("FUZZ_HTTP_LOG");
    int lfd =
        open(logf && *logf ? logf : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lfd < 0)
        die("cannot open the log: %s", strerror(errno));
    ctr_log_set_sink(lfd, false);
    ctr_log_set_level(logf && *logf ? CTR_LOG_DEBUG : CTR_LOG_ERROR);

    const char *img = getenv("FUZZ_HTTP_IMAGE");
    if (img && *img) {
        int fd = open(img, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
            die("cannot read FUZZ_HTTP_IMAGE `%s`", img);
        image_tar_len = (size_t)st.st_size;
        image_tar = malloc(image_tar_len);
        if (read(fd, image_tar, image_tar_len) != (ssize_t)image_tar_len)
            die("short read of `%s`", img);
        close(fd);
    }

    pthread_t t;
    if (pthread_create(&t, NULL, daemon_thread, NULL) != 0)
        die("cannot start the daemon thread%s", "");
    pthread_detach(t);
    ping();
    fixtures(FX_ALL);
    if (request_json("GET", "/containers/fz/json", NULL) != 200)
        fprintf(stderr,
                "fuzz-http: no fixture container (FUZZ_HTTP_IMAGE %s): inputs reach "
                "fewer handlers\n",
                image_tar ? "did not load" : "is not set");
    return 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The input with %XX decoded once, as libmicrohttpd decodes the path (caller frees). */
static uint8_t *decode(const uint8_t *data, size_t size, size_t *len)
{
    uint8_t *dec = malloc(size + 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '%' && i + 2 < size && hexval(data[i + 1]) >= 0 &&
            hexval(data[i + 2]) >= 0) {
            dec[n++] = (uint8_t)(hexval(data[i + 1]) << 4 | hexval(data[i + 2]));
            i += 2;
        } else {
            dec[n++] = data[i];
        }
    }
    *len = n;
    return dec;
}

static bool has(const uint8_t *d, size_t n, const char *word)
{
    return memmem(d, n, word, strlen(word)) != NULL;
}

/* Which fixtures an input may have removed, renamed or retagged. */
static unsigned may_remove(const uint8_t *d, size_t n)
{
    unsigned fx = 0;
    bool del = has(d, n, "DELETE") || has(d, n, "prune");
    if (has(d, n, "images") && (del || has(d, n, "load")))
        fx |= FX_IMAGE;
    if (has(d, n, "volumes") && del)
        fx |= FX_VOLUME;
    if (has(d, n, "containers") && (del || has(d, n, "rename")))
        fx |= FX_CONTAINER | FX_VOLUME;
    if (has(d, n, "networks") && del)
        fx |= FX_NETWORK;
    return fx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned long runs;
    static int slow_ms = -1;
    size_t n;

    if (slow_ms < 0)
        slow_ms = getenv("FUZZ_HTTP_SLOW") ? atoi(getenv("FUZZ_HTTP_SLOW")) : 0;
    uint8_t *dec = decode(data, size, &n);
    /* POST /container/system/stop would end the daemon: skipped */
    if (has(dec, n, "system/stop")) {
        free(dec);
        return -1;
    }
    unsigned fx = may_remove(dec, n);
    free(dec);

    int64_t t0 = now_ms();
    ssize_t got = exchange(data, size, NULL, 0, FIRST_MS);
    if (slow_ms && now_ms() - t0 >= slow_ms) {
        const uint8_t *nl = memchr(data, '\n', size);
        fprintf(stderr, "fuzz-http: slow input: %lld ms, %s: %.*s\n", (long long)(now_ms() - t0),
                got < 0 ? "abandoned" : "closed", (int)(nl ? (size_t)(nl - data) : size), data);
    }
    runs++;
    if (runs % FUZZ_HOUSEKEEP == 0)
        housekeeping();
    else if (fx)
        fixtures(fx); /* the next input finds them again, whatever this one did */
    else if (runs % PING_EVERY == 0)
        ping();
    return 0;
}
