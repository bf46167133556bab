/* log.c — JSON line logging. The level and descriptor are set once at start
 * (before threads exist) and only read afterwards. */
#include "util/log.h"
#include "util/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum ig_log_level log_min = IG_LOG_INFO;
static int log_fd = 2;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ig_log_setup(enum ig_log_level min, int fd)
{
    log_min = min;
    log_fd = fd;
}

int ig_log_enabled(enum ig_log_level level)
{
    return level >= log_min && log_fd >= 0;
}

int ig_log_begin(struct ig_buf *b, const char *level)
{
    int64_t ms = ig_unix_ms();
    return ig_buf_printf(b, "{\"ts\":%lld.%03d,\"level\":\"%s\"", (long long)(ms / 1000),
                         (int)(ms % 1000), level);
}

void ig_log_end(struct ig_buf *b)
{
    if (ig_buf_puts(b, "}") == 0)
        ig_log_line(b->data, b->len);
}

void ig_log_line(const char *json, size_t len)
{
    char stackbuf[4096];
    if (log_fd < 0)
        return;
    if (len + 1 <= sizeof stackbuf) {
        memcpy(stackbuf, json, len);
        stackbuf[len] = '\n';
        ssize_t w = write(log_fd, stackbuf, len + 1);
        (void)w;
        return;
    }
    struct ig_buf b;
    ig_buf_init(&b, len + 1);
    if (ig_buf_append(&b, json, len) == 0 && ig_buf_append(&b, "\n", 1) == 0) {
        ssize_t w = write(log_fd, b.data, b.len);
        (void)w;
    }
    ig_buf_release(&b);
}

void ig_log(enum ig_log_level level, const char *fmt, ...)
{
    if (!ig_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct ig_buf b;
    ig_buf_init(&b, 8192);
    if (ig_log_begin(&b, level_names[level]) == 0 && ig_buf_puts(&b, ",\"msg\":\"") == 0 &&
        ig_buf_json_escape(&b, msg, strlen(msg)) == 0 && ig_buf_puts(&b, "\"") == 0)
        ig_log_end(&b);
    ig_buf_release(&b);
}
