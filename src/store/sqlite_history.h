/* sqlite_history.h — private to store/: the SQL of an account's history of
 * generations, for sqlite.c's operations table. The caller holds the
 * store lock. */
#ifndef IG_STORE_SQLITE_HISTORY_H
#define IG_STORE_SQLITE_HISTORY_H

#include "store/sqlite_stmt.h"
#include "store/store.h"

int ig_sqlite_generation_history(struct ig_sqlite_cache *c, const struct ig_history_query *q,
                                 int (*cb)(const struct ig_history_row *, void *), void *ud);

int ig_sqlite_usage(struct ig_sqlite_cache *c, const char *account_id, int64_t from_ms,
                    int64_t to_ms, enum ig_usage_group by,
                    int (*cb)(const struct ig_usage_row *, void *), void *ud);

#endif
