/* timer.c — see timer.h. */
#include "util/timer.h"

void ig_timer_arm(uv_timer_t *t, uint64_t *deadline, uint64_t ms, uv_timer_cb cb)
{
    *deadline = uv_now(t->loop) + ms;
    if (!uv_is_active((uv_handle_t *)t) || uv_timer_get_due_in(t) > ms)
        uv_timer_start(t, cb, ms, 0);
}

int ig_timer_due(uv_timer_t *t, uint64_t *deadline, uv_timer_cb cb)
{
    if (!*deadline)
        return 0;
    uint64_t now = uv_now(t->loop);
    if (now < *deadline) {
        uv_timer_start(t, cb, *deadline - now, 0);
        return 0;
    }
    *deadline = 0;
    return 1;
}
