/* sqlite_jobs.c — the SQL of durable jobs; see sqlite_jobs.h and store.h.
 *
 * A claim is one UPDATE … RETURNING: the due jobs are chosen and leased in
 * the same statement, so two runners (threads or processes) never get the
 * same job. An end is conditional on the lease: a runner that lost its
 * job (its lease passed and another took it over) changes nothing. */
#include "store/sqlite_jobs.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define JOB_COLUMNS                                                                                \
    "id, account_id, key_id, status, request, base_url, request_id, webhook_url, hold_id, held, "  \
    "created_ms, started_ms, finished_ms, lease_owner, lease_expires_ms, attempts, upstream, "     \
    "cancel_requested, generation_id, error, batch_id, batch_index, progress "

void ig_job_record_release(struct ig_job_record *j)
{
    free(j->request);
    free(j->webhook_url);
    free(j->upstream);
    free(j->error);
    free(j->progress);
    j->request = j->webhook_url = j->upstream = j->error = j->progress = NULL;
}

static char *text_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

/* A row of JOB_COLUMNS into j: 0, or -1 when out of memory. */
static int row_to_job(sqlite3_stmt *st, struct ig_job_record *j)
{
    memset(j, 0, sizeof *j);
    ig_sqlite_text(j->id, sizeof j->id, st, 0);
    ig_sqlite_text(j->account_id, sizeof j->account_id, st, 1);
    ig_sqlite_text(j->key_id, sizeof j->key_id, st, 2);
    ig_sqlite_text(j->status, sizeof j->status, st, 3);
    j->request = text_dup(st, 4);
    ig_sqlite_text(j->base_url, sizeof j->base_url, st, 5);
    ig_sqlite_text(j->request_id, sizeof j->request_id, st, 6);
    j->webhook_url = text_dup(st, 7);
    ig_sqlite_text(j->hold_id, sizeof j->hold_id, st, 8);
    j->held = sqlite3_column_int64(st, 9);
    j->created_ms = sqlite3_column_int64(st, 10);
    j->started_ms = sqlite3_column_int64(st, 11);
    j->finished_ms = sqlite3_column_int64(st, 12);
    ig_sqlite_text(j->lease_owner, sizeof j->lease_owner, st, 13);
    j->lease_expires_ms = sqlite3_column_int64(st, 14);
    j->attempts = sqlite3_column_int(st, 15);
    j->upstream = text_dup(st, 16);
    j->cancel_requested = sqlite3_column_int(st, 17);
    ig_sqlite_text(j->generation_id, sizeof j->generation_id, st, 18);
    j->error = text_dup(st, 19);
    ig_sqlite_text(j->batch_id, sizeof j->batch_id, st, 20);
    j->batch_index = sqlite3_column_int(st, 21);
    j->progress = text_dup(st, 22);
    if (!j->request || (sqlite3_column_type(st, 7) != SQLITE_NULL && !j->webhook_url) ||
        (sqlite3_column_type(st, 16) != SQLITE_NULL && !j->upstream) ||
        (sqlite3_column_type(st, 19) != SQLITE_NULL && !j->error)) {
        ig_job_record_release(j);
        return -1;
    }
    return 0;
}

int ig_sqlite_job_insert(struct ig_sqlite_cache *c, const struct ig_job_record *j)
{
    return ig_sqlite_exec(
        c, NULL,
        "INSERT INTO jobs (id, account_id, key_id, status, request, base_url, request_id, "
        "webhook_url, hold_id, held, created_ms, batch_id, batch_index) "
        "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, NULLIF(?, ''), ?, ?, NULLIF(?, ''), ?)",
        "ssssssssiisi", j->id, j->account_id, j->key_id, j->request, j->base_url, j->request_id,
        j->webhook_url, j->hold_id, j->held, j->created_ms, j->batch_id, (int64_t)j->batch_index);
}

static int one_row(sqlite3_stmt *st, void *p)
{
    return row_to_job(st, p) ? -1 : 1;
}

int ig_sqlite_job_find(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                       struct ig_job_record *out)
{
    out->request = NULL;
    int rc = ig_sqlite_query(c, one_row, out,
                             "SELECT " JOB_COLUMNS
                             "FROM jobs WHERE id = ?1 AND (?2 IS NULL OR account_id = ?2)",
                             "ss", id, account_id);
    if (rc == 0 && !out->request)
        return IG_ENOMEM;
    return rc;
}

int ig_sqlite_job_end(struct ig_sqlite_cache *c, const char *id, const char *owner,
                      const char *status, const char *generation_id, const char *error,
                      int64_t now_ms)
{
    int changes = 0;
    int rc = ig_sqlite_exec(
        c, &changes,
        "UPDATE jobs SET status = ?3, generation_id = NULLIF(?4, ''), error = ?5, "
        "finished_ms = CASE WHEN ?3 = 'queued' THEN NULL ELSE ?6 END, lease_owner = NULL, "
        "lease_expires_ms = NULL WHERE id = ?1 AND "
        "((?2 IS NULL AND status = 'queued') OR (status = 'running' AND lease_owner = ?2))",
        "sssssi", id, owner, status, generation_id, error, now_ms);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}

int ig_sqlite_job_request_cancel(struct ig_sqlite_cache *c, const char *id)
{
    int changes = 0;
    int rc = ig_sqlite_exec(
        c, &changes,
        "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status IN ('queued', 'running')",
        "s", id);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}

struct each {
    int (*cb)(const struct ig_job_record *, void *);
    void *ud;
    int rc;
};

static int each_row(sqlite3_stmt *st, void *p)
{
    struct each *e = p;
    struct ig_job_record j;
    if (row_to_job(st, &j)) {
        e->rc = IG_ENOMEM;
        return 1;
    }
    int stop = e->cb(&j, e->ud);
    ig_job_record_release(&j);
    return stop;
}

int ig_sqlite_job_list(struct ig_sqlite_cache *c, const struct ig_job_query *q,
                       int (*cb)(const struct ig_job_record *, void *), void *ud)
{
    struct each e = {cb, ud, 0};
    int rc = ig_sqlite_query(
        c, each_row, &e,
        "SELECT " JOB_COLUMNS "FROM jobs WHERE account_id = ?1 AND (?2 IS NULL OR status = ?2) "
        "AND (?3 IS NULL OR batch_id = ?3) AND (?4 = 0 OR created_ms < ?4 OR "
        "(created_ms = ?4 AND id < ?5)) ORDER BY created_ms DESC, id DESC LIMIT ?6",
        "sssisi", q->account_id, q->status, q->batch_id, q->before_created_ms,
        q->before_id ? q->before_id : "", (int64_t)q->limit);
    rc = rc == IG_ENOTFOUND ? 0 : rc;
    return rc ? rc : e.rc;
}

int ig_sqlite_job_claim(struct ig_sqlite_cache *c, const char *owner, int64_t now_ms,
                        int64_t lease_ms, int max, int (*cb)(const struct ig_job_record *, void *),
                        void *ud)
{
    struct each e = {cb, ud, 0};
    /* Queued jobs first (oldest first), then those whose runner died. */
    int rc = ig_sqlite_query(
        c, each_row, &e,
        "UPDATE jobs SET status = 'running', lease_owner = ?1, lease_expires_ms = ?2 + ?3, "
        "attempts = attempts + 1, started_ms = COALESCE(started_ms, ?2) WHERE id IN "
        "(SELECT id FROM (SELECT id FROM jobs WHERE status = 'queued' AND "
        "batch_id IS NULL ORDER BY created_ms LIMIT ?4) "
        /* A batch's queued jobs, in order, as many as its max_concurrency
         * leaves room for (its counts are kept by migration 0013's
         * triggers). Only the oldest ?4 batches with room are looked at:
         * each gives at least one job, and a backlog of batches costs a
         * claim nothing more. */
        "UNION ALL SELECT id FROM (SELECT id FROM (SELECT j.id, j.created_ms, b.room, "
        "row_number() OVER (PARTITION BY j.batch_id ORDER BY j.batch_index) AS place FROM "
        "(SELECT id, max_concurrency - running AS room FROM batches WHERE queued > 0 AND "
        "running < max_concurrency ORDER BY created_ms LIMIT ?4) b "
        "JOIN jobs j ON j.batch_id = b.id AND j.status = 'queued') "
        "WHERE place <= room ORDER BY created_ms LIMIT ?4) "
        "UNION ALL SELECT id FROM (SELECT id FROM jobs "
        "WHERE status = 'running' AND lease_expires_ms < ?2 ORDER BY lease_expires_ms "
        "LIMIT ?4) LIMIT ?4) RETURNING " JOB_COLUMNS,
        "siii", owner, now_ms, lease_ms, (int64_t)max);
    rc = rc == IG_ENOTFOUND ? 0 : rc;
    return rc ? rc : e.rc;
}

struct ids {
    int (*cb)(const char *id, void *);
    void *ud;
};

static int id_row(sqlite3_stmt *st, void *p)
{
    struct ids *x = p;
    char id[IG_ID_MAX];
    ig_sqlite_text(id, sizeof id, st, 0);
    return id[0] && x->cb ? x->cb(id, x->ud) : 0; /* NULL: not asked to cancel */
}

int ig_sqlite_job_renew(struct ig_sqlite_cache *c, const char *owner, int64_t until_ms,
                        int (*cb)(const char *id, void *), void *ud)
{
    struct ids x = {cb, ud};
    int rc = ig_sqlite_query(
        c, id_row, &x,
        "UPDATE jobs SET lease_expires_ms = ?2 WHERE lease_owner = ?1 AND status = 'running' "
        "RETURNING CASE WHEN cancel_requested THEN id END",
        "si", owner, until_ms);
    return rc == IG_ENOTFOUND ? 0 : rc;
}

int ig_sqlite_job_set_upstream(struct ig_sqlite_cache *c, const char *id, const char *owner,
                               const char *upstream)
{
    int changes = 0;
    int rc = ig_sqlite_exec(c, &changes,
                            "UPDATE jobs SET upstream = ?3 WHERE id = ?1 AND lease_owner = ?2 AND "
                            "status = 'running'",
                            "sss", id, owner, upstream);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}

/* ---- batches ---- */

int ig_sqlite_batch_insert(struct ig_sqlite_cache *c, const struct ig_batch_record *b)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO batches (id, account_id, max_concurrency, total, "
                          "created_ms) VALUES (?, ?, ?, ?, ?)",
                          "ssiii", b->id, b->account_id, (int64_t)b->max_concurrency,
                          (int64_t)b->total, b->created_ms);
}

static int batch_row(sqlite3_stmt *st, void *p)
{
    struct ig_batch_record *b = p;
    ig_sqlite_text(b->id, sizeof b->id, st, 0);
    ig_sqlite_text(b->account_id, sizeof b->account_id, st, 1);
    b->max_concurrency = sqlite3_column_int(st, 2);
    b->total = sqlite3_column_int(st, 3);
    const unsigned char *r = sqlite3_column_text(st, 4);
    b->rejected = strdup(r ? (const char *)r : "[]");
    b->created_ms = sqlite3_column_int64(st, 5);
    return 1;
}

int ig_sqlite_batch_find(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                         struct ig_batch_record *out)
{
    memset(out, 0, sizeof *out);
    int rc = ig_sqlite_query(c, batch_row, out,
                             "SELECT id, account_id, max_concurrency, total, rejected, created_ms "
                             "FROM batches WHERE id = ? AND account_id = ?",
                             "ss", id, account_id);
    if (rc == 0 && !out->rejected)
        return IG_ENOMEM;
    return rc;
}

int ig_sqlite_batch_set_rejected(struct ig_sqlite_cache *c, const char *id, const char *rejected)
{
    return ig_sqlite_exec(c, NULL, "UPDATE batches SET rejected = ? WHERE id = ?", "ss", rejected,
                          id);
}

int ig_sqlite_job_set_progress(struct ig_sqlite_cache *c, const char *id, const char *owner,
                               const char *progress)
{
    int changes = 0;
    int rc = ig_sqlite_exec(c, &changes,
                            "UPDATE jobs SET progress = ?3 WHERE id = ?1 AND lease_owner = ?2 AND "
                            "status = 'running'",
                            "sss", id, owner, progress);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}
