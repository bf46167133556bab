/* headers.h — header lines as both transports keep them: "Name: value"
 * lines in one buffer, for a request's headers and an answer's alike. */
#ifndef IG_HEADERS_H
#define IG_HEADERS_H

#include "util/buf.h"

#include <stddef.h>

/* The value of the first line whose name is name (case-insensitive),
 * trimmed, its length in *len; NULL when absent. */
const char *ig_header_lines_find(const struct ig_buf *lines, const char *name, size_t *len);

#endif
