/* open.c — opening a store from its URL; see store.h. One line per
 * backend: the fleet's PostgreSQL store joins here. */
#include "store/store.h"

#include "util/err.h"

#include <stdio.h>
#include <string.h>

int ig_store_open(const char *url, struct ig_store **out, char *err, size_t err_size)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        url += 7;
    else if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        snprintf(err, err_size, "store '%.*s…': PostgreSQL stores are not built in yet", 24, url);
        return IG_ECONFIG;
    } else if (strstr(url, "://")) {
        snprintf(err, err_size, "store '%.64s': unknown kind of store (sqlite:PATH)", url);
        return IG_ECONFIG;
    }
    if (!*url) {
        snprintf(err, err_size, "store: an empty path");
        return IG_ECONFIG;
    }
    int rc = ig_store_open_sqlite(out, url);
    if (rc)
        snprintf(err, err_size, "store 'sqlite:%.200s': cannot open it (%s)", url, ig_strerror(rc));
    return rc;
}
