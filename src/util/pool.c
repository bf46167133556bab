/* pool.c — see pool.h. */
#include "util/pool.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Written once before the first job is queued; libuv's queue lock orders
 * that write before every pool thread's read. */
static int pool_nice;
static _Thread_local int entered;

void ig_pool_set_nice(int nice)
{
    pool_nice = nice < 0 ? 0 : nice > 19 ? 19 : nice;
}

void ig_pool_thread_enter(void)
{
    if (entered)
        return;
    entered = 1;
    if (pool_nice == 0)
        return;
    struct sched_param none = {0};
    sched_setscheduler(0, SCHED_BATCH, &none); /* 0: this thread */
    /* Relative to what the thread started with: lowering needs no
     * privilege, and a gateway started under `nice` stays below it. */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (errno == 0)
        setpriority(PRIO_PROCESS, tid, now + pool_nice > 19 ? 19 : now + pool_nice);
}
