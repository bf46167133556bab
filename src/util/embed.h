/* embed.h — files compiled into the binary by tools/embed.py (migrations,
 * later the web playground). Tables end with an entry whose name is NULL. */
#ifndef IG_EMBED_H
#define IG_EMBED_H

#include <stddef.h>

struct ig_embedded_file {
    const char *name;
    const char *data; /* NUL-terminated */
    size_t len;
};

extern const struct ig_embedded_file ig_migrations[];

#endif
