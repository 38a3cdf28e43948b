/* docker-init (HostConfig.Init, `run --init`): vminitd's own binary re-executed as
 * PID 1 of the container's PID namespace, as `/sbin/docker-init -- CMD ARGS`. Like
 * tini it runs CMD as its child, forwards every signal it gets to it, reaps the
 * zombies re-parented to it and exits with CMD's status (128 + signal when killed). */
#include "guest/guest-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

int guest_init_main(int argc, char **argv)
{
    cleanup_error ctr_error_t err = NULL;
    cleanup_free char *path = NULL;
    sigset_t all, old;
    int code = 0;
    pid_t child;

    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "docker-init: usage: docker-init -- COMMAND [ARG...]\n");
        return 1;
    }
    if (guest_lookup_exec("", argv[2], getenv("PATH"), &path, &code, &err) < 0) {
        fprintf(stderr, "docker-init: %s\n", err->msg);
        return code;
    }
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    child = fork();
    if (child < 0) {
        fprintf(stderr, "docker-init: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        /* its own process group, in the terminal's foreground (as tini): ^C reaches
         * CMD once, not CMD and docker-init (which would forward a second one) */
        struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};
        setpgid(0, 0);
        if (isatty(STDIN_FILENO)) {
            sigaction(SIGTTOU, &ign, NULL);
            tcsetpgrp(STDIN_FILENO, getpgrp());
            sigaction(SIGTTOU, &dfl, NULL);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        execve(path, argv + 2, environ);
        int e = errno;
        char *msg = guest_exec_errno_msg(argv[2], e);
        fprintf(stderr, "docker-init: %s\n", msg);
        _exit(guest_exec_errno_code(e));
    }
    for (;;) {
        siginfo_t si;
        int st;
        pid_t pid;

        if (sigwaitinfo(&all, &si) < 0)
            continue;
        if (si.si_signo != SIGCHLD) {
            kill(child, si.si_signo);
            continue;
        }
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
            if (pid == child)
                return guest_wait_status(st);
    }
}
