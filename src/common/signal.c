/* Signal names and numbers, as docker takes them: the CLI (`kill -s`, `--stop-signal`)
 * and the daemon (`?signal=`, StopSignal) accept the same set. */
#include "common/common.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* "RTMIN", "RTMIN+N", "RTMAX", "RTMAX-N" (n is after the base name) */
static int parse_rt(const char *n, int base, int sign, int *sig)
{
    if (*n == '\0') {
        *sig = base;
        return 0;
    }
    if (*n != (sign > 0 ? '+' : '-') || n[1] < '0' || n[1] > '9')
        return -1;
    char *end;
    long off = strtol(n + 1, &end, 10);
    if (*end || off > SIGRTMAX - SIGRTMIN)
        return -1;
    *sig = base + sign * (int)off;
    return 0;
}

int ctr_signal_parse(const char *s, int *sig)
{
    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] >= '0' && s[0] <= '9') {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 1 || v > 64)
            return -1;
        *sig = (int)v;
        return 0;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        if (strcasecmp(s, signals[i].name) == 0) {
            *sig = signals[i].sig;
            return 0;
        }
    }
    if (strncasecmp(s, "RTMIN", 5) == 0)
        return parse_rt(s + 5, SIGRTMIN, +1, sig);
    if (strncasecmp(s, "RTMAX", 5) == 0)
        return parse_rt(s + 5, SIGRTMAX, -1, sig);
    return -1;
}
