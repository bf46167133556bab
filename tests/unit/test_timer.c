/* util/timer: a deadline armed lazily still ends when it says, and only
 * then; moving it later does not restart the timer, moving it earlier does. */
#include "util/timer.h"

#include <criterion/criterion.h>

struct probe {
    uv_timer_t timer;
    uint64_t deadline;
    int fired; /* callbacks run */
    int due;   /* of those, deadlines that had passed */
    uint64_t due_at;
    uint64_t started;
    void (*on_fire)(struct probe *p); /* optional: what the first callback does */
};

static void cb(uv_timer_t *t)
{
    struct probe *p = t->data;
    p->fired++;
    if (p->on_fire) {
        void (*f)(struct probe *) = p->on_fire;
        p->on_fire = NULL;
        f(p);
    }
    if (ig_timer_due(t, &p->deadline, cb)) {
        p->due++;
        p->due_at = uv_now(t->loop) - p->started;
    }
}

static void run(struct probe *p, void (*arm)(struct probe *))
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_eq(uv_timer_init(&loop, &p->timer), 0);
    p->timer.data = p;
    uv_update_time(&loop);
    p->started = uv_now(&loop);
    arm(p);
    uv_run(&loop, UV_RUN_DEFAULT); /* ends once the timer is inactive */
    uv_close((uv_handle_t *)&p->timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* The deadline passed once, no sooner than ms after arming. */
static void assert_due_once_after(const struct probe *p, uint64_t ms)
{
    cr_assert_eq(p->due, 1);
    cr_assert_geq(p->due_at, ms);
    cr_assert_lt(p->due_at, 1000);
}

static void later(struct probe *p)
{
    ig_timer_arm(&p->timer, &p->deadline, 40, cb);
    uint64_t due_before = uv_timer_get_due_in(&p->timer);
    ig_timer_arm(&p->timer, &p->deadline, 120, cb);
    cr_assert_eq(uv_timer_get_due_in(&p->timer), due_before, "moved later: not restarted");
}

Test(timer, a_later_deadline_fires_early_then_at_its_time)
{
    struct probe p = {0};
    run(&p, later);
    cr_assert_eq(p.fired, 2, "once at the first deadline, once at the second");
    assert_due_once_after(&p, 120);
}

static void earlier(struct probe *p)
{
    ig_timer_arm(&p->timer, &p->deadline, 5000, cb);
    ig_timer_arm(&p->timer, &p->deadline, 30, cb);
    cr_assert_leq(uv_timer_get_due_in(&p->timer), 30, "moved earlier: restarted");
}

Test(timer, an_earlier_deadline_restarts_the_timer)
{
    struct probe p = {0};
    run(&p, earlier);
    cr_assert_eq(p.fired, 1);
    assert_due_once_after(&p, 30);
}

static void disarmed(struct probe *p)
{
    ig_timer_arm(&p->timer, &p->deadline, 20, cb);
    ig_timer_disarm(&p->deadline);
}

Test(timer, a_cleared_deadline_fires_for_nothing)
{
    struct probe p = {0};
    run(&p, disarmed);
    cr_assert_eq(p.fired, 1);
    cr_assert_eq(p.due, 0);
    cr_assert_eq(p.deadline, 0);
}

static void rearm_in_cb(struct probe *p)
{
    /* Set again from inside a callback that was for nothing. */
    ig_timer_arm(&p->timer, &p->deadline, 25, cb);
}

static void disarmed_then_set(struct probe *p)
{
    ig_timer_arm(&p->timer, &p->deadline, 10, cb);
    ig_timer_disarm(&p->deadline);
    p->on_fire = rearm_in_cb;
}

Test(timer, set_again_after_a_callback_for_nothing)
{
    struct probe p = {0};
    run(&p, disarmed_then_set);
    assert_due_once_after(&p, 35); /* 10 ms for nothing, then 25 more */
}
