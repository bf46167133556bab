/* clock.h — monotonic and wall clocks in the units the code uses. */
#ifndef IG_CLOCK_H
#define IG_CLOCK_H

#include <stdint.h>

uint64_t ig_now_us(void);   /* monotonic microseconds */
int64_t ig_unix_time(void); /* wall-clock seconds since the epoch */
int64_t ig_unix_ms(void);   /* wall-clock milliseconds since the epoch */
/* ms as RFC 3339 in UTC with milliseconds ("2026-12-06T08:00:00.123Z"). */
void ig_format_time_ms(int64_t ms, char out[32]);

#endif
