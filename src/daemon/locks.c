/* The daemon's lock order, checked (daemon-internal.h, "Locks").
 *
 * Every daemon mutex has a rank; a thread takes locks in increasing rank only. Each
 * thread keeps, per rank, how many locks of that rank it holds. Taking a lock while a
 * lock of the same or a higher rank is held is a violation: it is logged with both
 * ranks (the daemon's log is checked by the tests: no test may leave one behind) and,
 * in debug builds (CTR_DEBUG, `make SANITIZE=1`), the process aborts. */
#include "daemon/daemon-internal.h"

#include <stdlib.h>

static _Thread_local unsigned char held[DMN_RANK_COUNT];
static atomic_uint violations;

static const char *const rank_names[DMN_RANK_COUNT] = {
    [DMN_RANK_OP] = "op_lock",   [DMN_RANK_NET] = "net_lock", [DMN_RANK_IMG] = "img_lock",
    [DMN_RANK_CTRS] = "d->lock", [DMN_RANK_JOB] = "job lock",
};

const char *dmn_rank_name(enum dmn_rank rank)
{
    return rank > 0 && rank < DMN_RANK_COUNT && rank_names[rank] ? rank_names[rank] : "?";
}

/* 0 when taking a lock of rank keeps the order, else -1 (logged, counted). */
static int rank_check(enum dmn_rank rank)
{
    for (int r = DMN_RANK_COUNT - 1; r >= (int)rank; r--) {
        if (held[r]) {
            atomic_fetch_add(&violations, 1);
            log_error("lock order violated: taking %s while holding %s", dmn_rank_name(rank),
                      dmn_rank_name((enum dmn_rank)r));
#ifdef CTR_DEBUG
            abort();
#endif
            return -1;
        }
    }
    return 0;
}

void dmn_mutex_lock(pthread_mutex_t *m, enum dmn_rank rank)
{
    rank_check(rank);
    pthread_mutex_lock(m);
    held[rank]++;
}

void dmn_mutex_unlock(pthread_mutex_t *m, enum dmn_rank rank)
{
    if (held[rank])
        held[rank]--;
    pthread_mutex_unlock(m);
}

bool dmn_rank_held(enum dmn_rank rank)
{
    return held[rank] != 0;
}

unsigned dmn_lock_violations(void)
{
    return atomic_load(&violations);
}
