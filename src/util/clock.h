/* clock.h — monotonic and wall clocks in the units the code uses. */
#ifndef IG_CLOCK_H
#define IG_CLOCK_H

#include <stdint.h>

uint64_t ig_now_us(void);   /* monotonic microseconds */
int64_t ig_unix_time(void); /* wall-clock seconds since the epoch */
int64_t ig_unix_ms(void);   /* wall-clock milliseconds since the epoch */

#endif
