/* util/pool.c: a pool thread lowers itself once, on its first job. */
#include "util/pool.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct seen {
    int nice_before, nice_after, policy;
};

static int my_nice(void)
{
    return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

static void *pool_like_thread(void *arg)
{
    struct seen *s = arg;
    s->nice_before = my_nice();
    ig_pool_thread_enter();
    ig_pool_thread_enter(); /* the second call changes nothing */
    s->nice_after = my_nice();
    s->policy = sched_getscheduler(0);
    return NULL;
}

static struct seen run_thread(void)
{
    struct seen s = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, pool_like_thread, &s), 0);
    pthread_join(t, NULL);
    return s;
}

Test(pool, a_thread_lowers_itself_once)
{
    int main_before = my_nice();
    ig_pool_set_nice(7);
    struct seen s = run_thread();
    int want = s.nice_before + 7 > 19 ? 19 : s.nice_before + 7;
    cr_assert_eq(s.nice_after, want, "nice %d → %d", s.nice_before, s.nice_after);
    cr_assert_eq(s.policy, SCHED_BATCH);
    cr_assert_eq(my_nice(), main_before, "only the pool thread moved");
    cr_assert_eq(sched_getscheduler(0), SCHED_OTHER);
}

Test(pool, zero_leaves_threads_alone)
{
    ig_pool_set_nice(0);
    struct seen s = run_thread();
    cr_assert_eq(s.nice_after, s.nice_before);
    cr_assert_eq(s.policy, SCHED_OTHER);
}
