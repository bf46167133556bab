/* headers.c — reading "Name: value" header lines; see headers.h. */
#include "upstream/headers.h"

#include <string.h>
#include <strings.h>

const char *ig_header_lines_find(const struct ig_buf *lines, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *p = lines->data, *end = p ? p + lines->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = line_end;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}
