/* sse.c — see sse.h. */
#include "util/sse.h"

#include <string.h>

/* The end of the block starting at p: the offset of its blank line and,
 * in *sep, that line's length with the line end before it. */
static const char *block_end(const char *p, size_t len, size_t *sep)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n') {
            *sep = 2;
            return p + i;
        }
        if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n') {
            *sep = 3;
            return p + i;
        }
    }
    return NULL;
}

size_t ig_sse_next(const char *p, size_t len, struct ig_sse_event *ev)
{
    size_t sep = 0;
    const char *end = block_end(p, len, &sep);
    if (!end)
        return 0;
    memset(ev, 0, sizeof *ev);
    ev->block = p;
    ev->block_len = (size_t)(end - p);
    ev->name = ev->data = "";
    for (const char *line = p; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - line);
        if (n && line[n - 1] == '\r')
            n--;
        if (n >= 6 && memcmp(line, "event:", 6) == 0) {
            ev->name = line + 6 + (n > 6 && line[6] == ' ');
            ev->name_len = n - (size_t)(ev->name - line);
        } else if (n >= 5 && memcmp(line, "data:", 5) == 0 && !*ev->data) {
            ev->data = line + 5 + (n > 5 && line[5] == ' ');
            ev->data_len = n - (size_t)(ev->data - line);
        }
        line = stop + 1;
    }
    return (size_t)(end - p) + sep;
}

int ig_sse_name_ends(const struct ig_sse_event *ev, const char *suffix)
{
    size_t n = strlen(suffix);
    return ev->name_len >= n && memcmp(ev->name + ev->name_len - n, suffix, n) == 0;
}
