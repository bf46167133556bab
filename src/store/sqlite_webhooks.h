/* sqlite_webhooks.h — private to store/: the SQL of webhook deliveries and
 * signing-secret versions, for sqlite.c's operations table. As
 * sqlite_jobs.h: the caller holds the store lock; none locks or begins.
 * Each is store.h's operation of the same name. */
#ifndef IG_STORE_SQLITE_WEBHOOKS_H
#define IG_STORE_SQLITE_WEBHOOKS_H

#include "store/sqlite_stmt.h"
#include "store/store.h"

int ig_sqlite_webhook_enqueue(struct ig_sqlite_cache *c, const struct ig_webhook_record *w,
                              const char *url, const char *payload);
int ig_sqlite_webhook_claim(struct ig_sqlite_cache *c, const char *owner, int64_t now_ms,
                            int64_t lease_ms, int max,
                            int (*cb)(const struct ig_webhook_record *, void *), void *ud);
int ig_sqlite_webhook_attempted(struct ig_sqlite_cache *c, const char *id, const char *owner,
                                const struct ig_webhook_attempt *a);
int ig_sqlite_webhook_disable_endpoint(struct ig_sqlite_cache *c, const char *account_id,
                                       const char *url, int64_t now_ms);
int ig_sqlite_webhook_list(struct ig_sqlite_cache *c, const char *account_id, const char *before_id,
                           int limit, int (*cb)(const struct ig_webhook_record *, void *),
                           void *ud);
int ig_sqlite_webhook_redeliver(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                                int64_t now_ms, struct ig_webhook_record *out);
int ig_sqlite_webhook_secret_version(struct ig_sqlite_cache *c, const char *account_id,
                                     int64_t *version, int64_t *previous_until_ms);
int ig_sqlite_webhook_secret_rotate(struct ig_sqlite_cache *c, const char *account_id,
                                    int64_t previous_until_ms, int64_t *version);

int ig_sqlite_webhook_endpoint_set(struct ig_sqlite_cache *c, const char *account_id,
                                   const char *url, int64_t now_ms);
int ig_sqlite_webhook_endpoint_get(struct ig_sqlite_cache *c, const char *account_id, char **url);
int ig_sqlite_webhook_account_event(struct ig_sqlite_cache *c, const struct ig_webhook_record *w,
                                    const char *payload);

int ig_sqlite_webhook_next_due(struct ig_sqlite_cache *c, int64_t *ms);

#endif
