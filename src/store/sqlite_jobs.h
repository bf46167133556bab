/* sqlite_jobs.h — private to store/: the SQL of durable jobs, for
 * sqlite.c's operations table. Like sqlite_accounts.h: every function runs
 * on a connection whose store lock the caller holds; none locks or
 * begins. Each is store.h's operation of the same name. */
#ifndef IG_STORE_SQLITE_JOBS_H
#define IG_STORE_SQLITE_JOBS_H

#include "store/sqlite_stmt.h"
#include "store/store.h"

int ig_sqlite_job_insert(struct ig_sqlite_cache *c, const struct ig_job_record *j);
int ig_sqlite_job_find(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                       struct ig_job_record *out);
int ig_sqlite_job_end(struct ig_sqlite_cache *c, const char *id, const char *owner,
                      const char *status, const char *generation_id, const char *error,
                      int64_t now_ms);
int ig_sqlite_job_request_cancel(struct ig_sqlite_cache *c, const char *id);
int ig_sqlite_job_list(struct ig_sqlite_cache *c, const struct ig_job_query *q,
                       int (*cb)(const struct ig_job_record *, void *), void *ud);
int ig_sqlite_job_claim(struct ig_sqlite_cache *c, const char *owner, int64_t now_ms,
                        int64_t lease_ms, int max, int (*cb)(const struct ig_job_record *, void *),
                        void *ud);
int ig_sqlite_job_renew(struct ig_sqlite_cache *c, const char *owner, int64_t until_ms,
                        int (*cb)(const char *id, void *), void *ud);
int ig_sqlite_job_set_upstream(struct ig_sqlite_cache *c, const char *id, const char *owner,
                               const char *upstream);

int ig_sqlite_job_set_progress(struct ig_sqlite_cache *c, const char *id, const char *owner,
                               const char *progress);
int ig_sqlite_batch_insert(struct ig_sqlite_cache *c, const struct ig_batch_record *b);
int ig_sqlite_batch_find(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                         struct ig_batch_record *out);
int ig_sqlite_batch_set_rejected(struct ig_sqlite_cache *c, const char *id, const char *rejected);

#endif
