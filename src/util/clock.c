/* clock.c — clock_gettime wrappers. */
#include "util/clock.h"

#include <time.h>

uint64_t ig_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t ig_unix_time(void)
{
    return (int64_t)time(NULL);
}

int64_t ig_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
