/* `top` without `ps` in the image (agent op top): the processes of the container's
 * PID namespace, read from the VM's /proc by vminitd, printed as procps' `ps` would
 * for the ps_args Docker users pass. PIDs are the VM's (vminitd's view), as Docker
 * shows the host's. Outside the VM (no namespace) it is an error. */
#include "guest/guest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOP_MAX_OUT (60u * 1024) /* the reply must fit one control frame */

enum top_fmt { FMT_EF, FMT_E, FMT_AUX, FMT_AX };

struct pinfo {
    int pid, ppid, pgrp, sid, tty, tpgid;
    char state;
    long threads, nice;
    unsigned long long utime, stime, start;
    unsigned long long vsize;
    long long rss;
    unsigned uid;
    char comm[64];
    char *cmd; /* args joined by spaces, or "[comm]" */
};

static int parse_args(const char *ps_args, enum top_fmt *fmt, ctr_error_t *err)
{
    bool seen[128] = {false};
    bool dash = false;

    for (const char *p = ps_args ? ps_args : ""; *p; p++) {
        if (*p == ' ' || *p == '\t')
            continue;
        if (*p == '-') {
            dash = true;
            continue;
        }
        if ((unsigned char)*p >= 128 || strchr("efAaux", *p) == NULL)
            goto bad;
        seen[(int)*p] = true;
    }
    bool e = seen['e'] || seen['A'], f = seen['f'], a = seen['a'], u = seen['u'], x = seen['x'];
    if (!e && !f && !a && !u && !x)
        *fmt = FMT_EF;
    else if (!a && !u && !x)
        *fmt = f ? FMT_EF : FMT_E;
    else if (!e && !f && a && x)
        *fmt = u ? FMT_AUX : FMT_AX;
    else
        goto bad;
    (void)dash;
    return 0;
bad:
    return ctr_fail_class(err, EINVAL,
                          "ps: unsupported ps_args `%s`: the VM's top knows `-ef` (the default), "
                          "`-e`, `-f`, `aux` and `ax`",
                          ps_args);
}

static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (int)n;
}

static bool read_proc(int pid, struct pinfo *pi)
{
    char path[64], buf[4096];
    int n;

    memset(pi, 0, sizeof(*pi));
    pi->pid = pid;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return false;
    char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (lp == NULL || rp == NULL || rp < lp)
        return false;
    snprintf(pi->comm, sizeof(pi->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
    long prio;
    if (sscanf(rp + 2,
               "%c %d %d %d %d %d %*u %*u %*u %*u %*u %llu %llu %*d %*d %ld %ld %ld %*d %llu "
               "%llu %lld",
               &pi->state, &pi->ppid, &pi->pgrp, &pi->sid, &pi->tty, &pi->tpgid, &pi->utime,
               &pi->stime, &prio, &pi->nice, &pi->threads, &pi->start, &pi->vsize, &pi->rss) != 14)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (read_small(path, buf, sizeof(buf)) > 0) {
        char *u = strstr(buf, "\nUid:");
        unsigned ruid, euid;
        if (u && sscanf(u + 5, "%u %u", &ruid, &euid) == 2)
            pi->uid = euid;
    }
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    n = read_small(path, buf, sizeof(buf));
    if (n > 0) {
        while (n > 0 && buf[n - 1] == '\0')
            n--;
        for (int i = 0; i < n; i++)
            if (buf[i] == '\0' || buf[i] == '\n')
                buf[i] = ' ';
        buf[n] = '\0';
        pi->cmd = ctr_xstrdup(buf);
    } else {
        pi->cmd = ctr_xasprintf("[%s]", pi->comm);
    }
    return true;
}

static char *user_name(const char *passwd, unsigned uid)
{
    char want[32];
    snprintf(want, sizeof(want), ":%u:", uid);
    for (const char *line = passwd; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        if (c1) {
            const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
            if (c2 && strncmp(c2, want, strlen(want)) == 0 && c1 > line)
                return ctr_xstrndup(line, (size_t)(c1 - line));
        }
        line = end ? end + 1 : NULL;
    }
    return ctr_xasprintf("%u", uid);
}

static void fmt_tty(int tty, char *out, size_t cap)
{
    unsigned maj = ((unsigned)tty >> 8) & 0xfff,
             min = ((unsigned)tty & 0xff) | (((unsigned)tty >> 12) & 0xfff00);
    if (tty == 0)
        snprintf(out, cap, "?");
    else if (maj >= 136 && maj <= 143)
        snprintf(out, cap, "pts/%u", (maj - 136) * 256 + min);
    else if (maj == 4 && min < 64)
        snprintf(out, cap, "tty%u", min);
    else if (maj == 4)
        snprintf(out, cap, "ttyS%u", min - 64);
    else
        snprintf(out, cap, "?");
}

/* [DD-]HH:MM:SS (-f, -e) or M:SS (BSD forms) */
static void fmt_time(unsigned long long secs, bool bsd, char *out, size_t cap)
{
    if (bsd)
        snprintf(out, cap, "%llu:%02llu", secs / 60, secs % 60);
    else if (secs >= 86400)
        snprintf(out, cap, "%llu-%02llu:%02llu:%02llu", secs / 86400, secs / 3600 % 24,
                 secs / 60 % 60, secs % 60);
    else
        snprintf(out, cap, "%02llu:%02llu:%02llu", secs / 3600, secs / 60 % 60, secs % 60);
}

/* HH:MM today, else MonDD (procps) */
static void fmt_start(time_t t, time_t now, char *out, size_t cap)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, now - t < 86400 ? "%H:%M" : "%b%d", &tm);
}

static void fmt_stat(const struct pinfo *pi, char *out, size_t cap)
{
    snprintf(out, cap, "%c%s%s%s%s%s", pi->state, pi->nice < 0 ? "<" : "", pi->nice > 0 ? "N" : "",
             pi->sid == pi->pid ? "s" : "", pi->threads > 1 ? "l" : "",
             pi->tty && pi->tpgid == pi->pgrp ? "+" : "");
}

static void out_add(char **out, size_t *len, size_t *cap, const char *line)
{
    size_t l = strlen(line);
    if (*len + l + 1 > *cap) {
        *cap = (*len + l + 1) * 2;
        *out = ctr_xrealloc(*out, *cap);
    }
    memcpy(*out + *len, line, l + 1);
    *len += l;
}

int guest_top(const char *ps_args, char **out, ctr_error_t *err)
{
    static const char *const headers[] = {
        [FMT_EF] = "UID          PID    PPID  C STIME TTY          TIME CMD\n",
        [FMT_E] = "    PID TTY          TIME CMD\n",
        [FMT_AUX] = "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n",
        [FMT_AX] = "    PID TTY      STAT   TIME COMMAND\n",
    };
    enum top_fmt fmt = FMT_EF;
    ino_t ns;
    char buf[256];
    double uptime = 0, hz = (double)sysconf(_SC_CLK_TCK);
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    unsigned long long mem_kb = 0;
    cleanup_free char *passwd = NULL;
    size_t plen, len = 0, cap = 4096;
    time_t now = time(NULL);
    DIR *d;
    struct dirent *de;

    if (parse_args(ps_args, &fmt, err) < 0)
        return -1;
    if (!guest_ctr_pidns(&ns))
        return ctr_fail_class(err, ESRCH, "the container has no PID namespace yet");
    if (read_small("/proc/uptime", buf, sizeof(buf)) > 0)
        uptime = strtod(buf, NULL);
    if (read_small("/proc/meminfo", buf, sizeof(buf)) > 0)
        sscanf(buf, "MemTotal: %llu", &mem_kb);
    {
        ctr_error_t e2 = NULL;
        if (ctr_read_file("/etc/passwd", 1u << 20, &passwd, &plen, &e2) < 0)
            ctr_error_free(&e2);
    }
    d = opendir("/proc");
    if (d == NULL)
        return ctr_fail(err, errno, "list `/proc`");
    char *text = ctr_xmalloc(cap);
    text[0] = '\0';
    out_add(&text, &len, &cap, headers[fmt]);
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        char p[64], line[8192], tty[32], tm[32], st[16], start[16];
        struct stat sb;
        struct pinfo pi;
        if (*end != '\0' || pid <= 0)
            continue;
        snprintf(p, sizeof(p), "/proc/%ld/ns/pid", pid);
        if (stat(p, &sb) < 0 || sb.st_ino != ns || !read_proc((int)pid, &pi))
            continue;
        cleanup_free char *user = user_name(passwd, pi.uid);
        double cpu_s = (double)(pi.utime + pi.stime) / hz;
        double age = uptime - (double)pi.start / hz;
        int pcpu10 = age > 0 ? (int)(cpu_s * 1000.0 / age) : 0;
        fmt_tty(pi.tty, tty, sizeof(tty));
        fmt_time((unsigned long long)cpu_s, fmt == FMT_AUX || fmt == FMT_AX, tm, sizeof(tm));
        fmt_start(now - (time_t)(age > 0 ? age : 0), now, start, sizeof(start));
        fmt_stat(&pi, st, sizeof(st));
        switch (fmt) {
        case FMT_EF:
            snprintf(line, sizeof(line), "%-8s %7d %7d %2d %-5s %-8s %8s %s\n", user, pi.pid,
                     pi.ppid, pcpu10 / 10, start, tty, tm, pi.cmd);
            break;
        case FMT_E:
            snprintf(line, sizeof(line), "%7d %-8s %8s %s\n", pi.pid, tty, tm, pi.comm);
            break;
        case FMT_AUX: {
            long long rss_kb = pi.rss * page_kb;
            double pmem = mem_kb ? (double)rss_kb * 100.0 / (double)mem_kb : 0;
            snprintf(line, sizeof(line), "%-8s %7d %4.1f %4.1f %6llu %5lld %-8s %-4s %5s %6s %s\n",
                     user, pi.pid, pcpu10 / 10.0, pmem, pi.vsize / 1024, rss_kb, tty, st, start, tm,
                     pi.cmd);
            break;
        }
        case FMT_AX:
            snprintf(line, sizeof(line), "%7d %-8s %-4s %6s %s\n", pi.pid, tty, st, tm, pi.cmd);
            break;
        }
        free(pi.cmd);
        if (len + strlen(line) > TOP_MAX_OUT)
            break;
        out_add(&text, &len, &cap, line);
    }
    closedir(d);
    *out = text;
    return 0;
}
