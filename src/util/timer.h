/* timer.h — a deadline on a libuv timer, armed lazily.
 *
 * A connection moves through phases (headers, body, waiting, idle), each
 * with its own deadline, several times per request; restarting its timer
 * at every change costs a removal and an insertion on the loop's timer
 * heap each time. Armed lazily, as nginx arms its timers: setting a
 * deadline only records it, and the timer is started again only when it
 * would fire after it. Firing early (the deadline has moved later since),
 * the timer starts again for the rest; cleared, it fires for nothing. A
 * busy connection's timer then fires about once per timeout instead of
 * being moved on every request.
 *
 * The timer's callback begins with ig_timer_due(): it acts only when that
 * returns 1. *deadline is loop time (uv_now) in ms; 0 means none. */
#ifndef IG_TIMER_H
#define IG_TIMER_H

#include <stdint.h>
#include <uv.h>

/* The deadline is ms from now (loop time). */
void ig_timer_arm(uv_timer_t *t, uint64_t *deadline, uint64_t ms, uv_timer_cb cb);

/* No deadline: the timer, if it fires, does nothing. */
static inline void ig_timer_disarm(uint64_t *deadline)
{
    *deadline = 0;
}

/* In cb: 1 when the deadline has passed (and it is cleared), else 0 (none
 * is set, or it is later and the timer has been started again for it). */
int ig_timer_due(uv_timer_t *t, uint64_t *deadline, uv_timer_cb cb);

#endif
