/* A small epoll loop for the shim: fd watches, one-shot timers (timerfd) and
 * signals (signalfd), all dispatched from one thread (conmon style). */
#ifndef CTR_SHIM_LOOP_INTERNAL_H
#define CTR_SHIM_LOOP_INTERNAL_H

#include "common/common.h"

#include <stdint.h>

struct shim_loop;
struct shim_watch;

typedef void (*shim_watch_fn)(struct shim_watch *w, uint32_t revents);

struct shim_watch {
    struct shim_loop *loop;
    int fd;
    uint32_t events;
    shim_watch_fn fn;
    void *data;
    bool owns_fd; /* close fd on remove (timers, signalfd) */
};

struct shim_loop {
    int epfd;
    bool quit;
    /* Called after each batch of events: the place to free objects whose watches
     * may still be referenced by the batch being dispatched. */
    void (*after)(void *data);
    void *after_data;
};

int shim_loop_init(struct shim_loop *l, ctr_error_t *err);
void shim_loop_release(struct shim_loop *l);
/* Watch fd for events (EPOLLIN/EPOLLOUT...). w stays owned by the caller. */
int shim_loop_add(struct shim_loop *l, struct shim_watch *w, int fd, uint32_t events,
                  shim_watch_fn fn, void *data, ctr_error_t *err);
int shim_loop_mod(struct shim_watch *w, uint32_t events);
/* Stop watching (closes the fd when the loop created it); safe on an unused watch. */
void shim_loop_del(struct shim_watch *w);
/* Arm a one-shot timer firing after ms milliseconds (re-arming replaces the deadline). */
int shim_loop_timer(struct shim_loop *l, struct shim_watch *w, uint64_t ms, shim_watch_fn fn,
                    void *data, ctr_error_t *err);
/* Block the given signals and deliver them through a signalfd; the callback reads
 * struct signalfd_siginfo from w->fd. */
int shim_loop_signals(struct shim_loop *l, struct shim_watch *w, const int *sigs, size_t n,
                      shim_watch_fn fn, void *data, ctr_error_t *err);
/* Run until shim_loop_quit(); returns -1 only on an epoll failure. */
int shim_loop_run(struct shim_loop *l, ctr_error_t *err);
void shim_loop_quit(struct shim_loop *l);

#endif
