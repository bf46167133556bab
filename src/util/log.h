/* log.h — one JSON object per line on the log stream (stderr by default).
 * Each line is written with a single write(2), so lines from different
 * threads never interleave. Callers never pass secrets or prompts. */
#ifndef IG_LOG_H
#define IG_LOG_H

#include "util/buf.h"

enum ig_log_level { IG_LOG_DEBUG, IG_LOG_INFO, IG_LOG_WARN, IG_LOG_ERROR };

/* Sets the minimum level and the descriptor lines go to (default 2). */
void ig_log_setup(enum ig_log_level min, int fd);
/* {"ts":…,"level":…,"msg":"<formatted>"} */
void ig_log(enum ig_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes a complete, already-built JSON line (a newline is added). */
void ig_log_line(const char *json, size_t len);
/* Starts a JSON log object with ts and level in b; callers add fields and
 * finish with ig_log_end(). */
int ig_log_begin(struct ig_buf *b, const char *level);
void ig_log_end(struct ig_buf *b);
int ig_log_enabled(enum ig_log_level level);

#define ig_info(...)  ig_log(IG_LOG_INFO, __VA_ARGS__)
#define ig_warn(...)  ig_log(IG_LOG_WARN, __VA_ARGS__)
#define ig_error(...) ig_log(IG_LOG_ERROR, __VA_ARGS__)

#endif
