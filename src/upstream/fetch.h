/* fetch.h — one blocking HTTP(S) request, for programs that are not on a
 * loop (the CLI talking to a gateway). Never call it on a worker loop: the
 * gateway's own calls go through upstream.h. */
#ifndef IG_FETCH_H
#define IG_FETCH_H

#include "util/buf.h"

#include <stddef.h>

struct ig_fetch_result {
    long status;        /* 0 when no answer came */
    struct ig_buf body; /* bounded by the caller's max_body */
    char error[256];    /* why no answer came */
};

/* Once per process, before any fetch, and after the last. */
void ig_fetch_global_init(void);
void ig_fetch_global_cleanup(void);
/* method to url, with "Authorization: Bearer key" when key is not NULL and
 * a JSON body when json_body is not NULL. 0 when an answer came (any
 * status), IG_EIO with out->error otherwise, IG_ENOMEM. out->body must be
 * released by the caller either way. */
int ig_fetch(const char *method, const char *url, const char *key, const char *json_body,
             size_t max_body, const char *user_agent, struct ig_fetch_result *out);

#endif
