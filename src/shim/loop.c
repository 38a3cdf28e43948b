#include "shim/loop-internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

int shim_loop_init(struct shim_loop *l, ctr_error_t *err)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return ctr_fail(err, errno, "epoll_create1");
    return 0;
}

void shim_loop_release(struct shim_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int shim_loop_add(struct shim_loop *l, struct shim_watch *w, int fd, uint32_t events,
                  shim_watch_fn fn, void *data, ctr_error_t *err)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    w->loop = l;
    w->fd = fd;
    w->events = events;
    w->fn = fn;
    w->data = data;
    w->owns_fd = false;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        w->loop = NULL;
        return ctr_fail(err, errno, "epoll add fd %d", fd);
    }
    return 0;
}

int shim_loop_mod(struct shim_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    if (w->loop == NULL || w->events == events)
        return 0;
    w->events = events;
    return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void shim_loop_del(struct shim_watch *w)
{
    if (w->loop == NULL)
        return;
    epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->owns_fd)
        close(w->fd);
    w->loop = NULL;
    w->fd = -1;
}

int shim_loop_timer(struct shim_loop *l, struct shim_watch *w, uint64_t ms, shim_watch_fn fn,
                    void *data, ctr_error_t *err)
{
    struct itimerspec its = {0};

    if (w->loop == NULL) {
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd < 0)
            return ctr_fail(err, errno, "timerfd_create");
        if (shim_loop_add(l, w, fd, EPOLLIN, fn, data, err) < 0) {
            close(fd);
            return -1;
        }
        w->owns_fd = true;
    }
    w->fn = fn;
    w->data = data;
    its.it_value.tv_sec = (time_t)(ms / 1000);
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    if (ms == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm */
    if (timerfd_settime(w->fd, 0, &its, NULL) < 0)
        return ctr_fail(err, errno, "timerfd_settime");
    return 0;
}

int shim_loop_signals(struct shim_loop *l, struct shim_watch *w, const int *sigs, size_t n,
                      shim_watch_fn fn, void *data, ctr_error_t *err)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    for (size_t i = 0; i < n; i++)
        sigaddset(&set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return ctr_fail(err, errno, "sigprocmask");
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0)
        return ctr_fail(err, errno, "signalfd");
    if (shim_loop_add(l, w, fd, EPOLLIN, fn, data, err) < 0) {
        close(fd);
        return -1;
    }
    w->owns_fd = true;
    return 0;
}

int shim_loop_run(struct shim_loop *l, ctr_error_t *err)
{
    struct epoll_event evs[16];

    while (!l->quit) {
        int n = epoll_wait(l->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ctr_fail(err, errno, "epoll_wait");
        }
        for (int i = 0; i < n && !l->quit; i++) {
            struct shim_watch *w = evs[i].data.ptr;
            if (w->loop == NULL)
                continue;
            w->fn(w, evs[i].events);
        }
        if (l->after)
            l->after(l->after_data);
    }
    return 0;
}

void shim_loop_quit(struct shim_loop *l)
{
    l->quit = true;
}
