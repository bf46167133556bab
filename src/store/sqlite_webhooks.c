/* sqlite_webhooks.c — the SQL of webhook deliveries; see
 * sqlite_webhooks.h and store.h. Claims are one UPDATE … RETURNING, as
 * jobs' are. */
#include "store/sqlite_webhooks.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define WEBHOOK_COLUMNS                                                                            \
    "id, account_id, event_type, url, payload, status, attempts, next_attempt_ms, last_status, "   \
    "last_error, created_ms, finished_ms, job_id "

void ig_webhook_record_release(struct ig_webhook_record *w)
{
    free(w->url);
    free(w->payload);
    w->url = w->payload = NULL;
}

static int row_to_webhook(sqlite3_stmt *st, struct ig_webhook_record *w)
{
    memset(w, 0, sizeof *w);
    ig_sqlite_text(w->id, sizeof w->id, st, 0);
    ig_sqlite_text(w->account_id, sizeof w->account_id, st, 1);
    ig_sqlite_text(w->event_type, sizeof w->event_type, st, 2);
    const unsigned char *url = sqlite3_column_text(st, 3), *payload = sqlite3_column_text(st, 4);
    w->url = strdup(url ? (const char *)url : "");
    w->payload = strdup(payload ? (const char *)payload : "");
    ig_sqlite_text(w->status, sizeof w->status, st, 5);
    w->attempts = sqlite3_column_int(st, 6);
    w->next_attempt_ms = sqlite3_column_int64(st, 7);
    w->last_status = sqlite3_column_int(st, 8);
    ig_sqlite_text(w->last_error, sizeof w->last_error, st, 9);
    w->created_ms = sqlite3_column_int64(st, 10);
    w->finished_ms = sqlite3_column_int64(st, 11);
    ig_sqlite_text(w->job_id, sizeof w->job_id, st, 12);
    if (!w->url || !w->payload) {
        ig_webhook_record_release(w);
        return -1;
    }
    return 0;
}

int ig_sqlite_webhook_enqueue(struct ig_sqlite_cache *c, const struct ig_webhook_record *w,
                              const char *url, const char *payload)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO webhook_deliveries (id, account_id, event_type, url, "
                          "payload, status, next_attempt_ms, created_ms, job_id) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, NULLIF(?7, ''))",
                          "sssssis", w->id, w->account_id, w->event_type, url, payload,
                          w->created_ms, w->job_id);
}

struct each {
    int (*cb)(const struct ig_webhook_record *, void *);
    void *ud;
    int rc;
};

static int each_row(sqlite3_stmt *st, void *p)
{
    struct each *e = p;
    struct ig_webhook_record w;
    if (row_to_webhook(st, &w)) {
        e->rc = IG_ENOMEM;
        return 1;
    }
    int stop = e->cb(&w, e->ud);
    ig_webhook_record_release(&w);
    return stop;
}

int ig_sqlite_webhook_claim(struct ig_sqlite_cache *c, const char *owner, int64_t now_ms,
                            int64_t lease_ms, int max,
                            int (*cb)(const struct ig_webhook_record *, void *), void *ud)
{
    /* Deliveries to a disabled endpoint are never pending: migration
     * 0016's triggers disable them as they are written and when their
     * endpoint is. */
    struct each e = {cb, ud, 0};
    int rc = ig_sqlite_query(
        c, each_row, &e,
        "UPDATE webhook_deliveries SET lease_owner = ?1, lease_expires_ms = ?2 + ?3 WHERE id IN "
        "(SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_ms <= ?2 "
        "AND (lease_expires_ms IS NULL OR lease_expires_ms < ?2) ORDER BY next_attempt_ms "
        "LIMIT ?4) RETURNING " WEBHOOK_COLUMNS,
        "siii", owner, now_ms, lease_ms, (int64_t)max);
    rc = rc == IG_ENOTFOUND ? 0 : rc;
    return rc ? rc : e.rc;
}

int ig_sqlite_webhook_attempted(struct ig_sqlite_cache *c, const char *id, const char *owner,
                                const struct ig_webhook_attempt *a)
{
    int changes = 0;
    int rc = ig_sqlite_exec(
        c, &changes,
        "UPDATE webhook_deliveries SET status = ?3, attempts = attempts + 1, "
        "next_attempt_ms = ?4, last_status = NULLIF(?5, 0), last_error = NULLIF(?6, ''), "
        "finished_ms = CASE WHEN ?3 = 'pending' THEN NULL ELSE ?7 END, lease_owner = NULL, "
        "lease_expires_ms = NULL WHERE id = ?1 AND lease_owner = ?2 AND status = 'pending'",
        "sssiisi", id, owner, a->status, a->next_attempt_ms, (int64_t)a->last_status,
        a->last_error ? a->last_error : "", a->now_ms);
    return rc ? rc : changes ? 0 : IG_ENOTFOUND;
}

int ig_sqlite_webhook_disable_endpoint(struct ig_sqlite_cache *c, const char *account_id,
                                       const char *url, int64_t now_ms)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO webhook_endpoints_disabled (account_id, url, disabled_ms) "
                          "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          "ssi", account_id, url, now_ms);
}

int ig_sqlite_webhook_list(struct ig_sqlite_cache *c, const char *account_id, const char *before_id,
                           int limit, int (*cb)(const struct ig_webhook_record *, void *), void *ud)
{
    struct each e = {cb, ud, 0};
    int rc = ig_sqlite_query(c, each_row, &e,
                             "SELECT " WEBHOOK_COLUMNS "FROM webhook_deliveries WHERE "
                             "account_id = ?1 AND (?2 = '' OR id < ?2) ORDER BY id DESC "
                             "LIMIT ?3",
                             "ssi", account_id, before_id ? before_id : "", (int64_t)limit);
    rc = rc == IG_ENOTFOUND ? 0 : rc;
    return rc ? rc : e.rc;
}

static int one_row(sqlite3_stmt *st, void *p)
{
    return row_to_webhook(st, p) ? -1 : 1;
}

int ig_sqlite_webhook_redeliver(struct ig_sqlite_cache *c, const char *account_id, const char *id,
                                int64_t now_ms, struct ig_webhook_record *out)
{
    out->url = NULL;
    int rc = ig_sqlite_query(c, one_row, out,
                             "SELECT " WEBHOOK_COLUMNS "FROM webhook_deliveries WHERE id = ? AND "
                             "account_id = ?",
                             "ss", id, account_id);
    if (rc == 0 && !out->url)
        return IG_ENOMEM;
    if (rc)
        return rc;
    if (strcmp(out->status, "pending") == 0)
        return IG_EEXISTS;
    rc = ig_sqlite_exec(c, NULL,
                        "DELETE FROM webhook_endpoints_disabled WHERE account_id = ? AND url = ?",
                        "ss", account_id, out->url);
    rc = rc ? rc
            : ig_sqlite_exec(c, NULL,
                             "UPDATE webhook_deliveries SET status = 'pending', "
                             "next_attempt_ms = ?2, finished_ms = NULL, lease_owner = NULL, "
                             "lease_expires_ms = NULL WHERE id = ?1",
                             "si", id, now_ms);
    if (rc == 0) {
        ig_strlcpy(out->status, "pending", sizeof out->status);
        out->next_attempt_ms = now_ms;
        out->finished_ms = 0;
    }
    return rc;
}

static int two_ints(sqlite3_stmt *st, void *p)
{
    int64_t *v = p;
    v[0] = sqlite3_column_int64(st, 0);
    v[1] = sqlite3_column_int64(st, 1);
    return 1;
}

int ig_sqlite_webhook_secret_version(struct ig_sqlite_cache *c, const char *account_id,
                                     int64_t *version, int64_t *previous_until_ms)
{
    int64_t v[2] = {1, 0};
    int rc = ig_sqlite_query(c, two_ints, v,
                             "SELECT version, previous_until_ms FROM webhook_secrets WHERE "
                             "account_id = ?",
                             "s", account_id);
    if (rc && rc != IG_ENOTFOUND)
        return rc;
    *version = v[0];
    *previous_until_ms = v[1];
    return 0;
}

int ig_sqlite_webhook_secret_rotate(struct ig_sqlite_cache *c, const char *account_id,
                                    int64_t previous_until_ms, int64_t *version)
{
    int64_t v[2] = {0, 0};
    int rc = ig_sqlite_query(c, two_ints, v,
                             "INSERT INTO webhook_secrets (account_id, version, previous_until_ms) "
                             "VALUES (?1, 2, ?2) ON CONFLICT (account_id) DO UPDATE SET version = "
                             "version + 1, previous_until_ms = ?2 RETURNING version, "
                             "previous_until_ms",
                             "si", account_id, previous_until_ms);
    *version = v[0];
    return rc;
}

int ig_sqlite_webhook_endpoint_set(struct ig_sqlite_cache *c, const char *account_id,
                                   const char *url, int64_t now_ms)
{
    if (!url)
        return ig_sqlite_exec(c, NULL, "DELETE FROM webhook_endpoints WHERE account_id = ?", "s",
                              account_id);
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO webhook_endpoints (account_id, url, created_ms) VALUES "
                          "(?1, ?2, ?3) ON CONFLICT (account_id) DO UPDATE SET url = ?2, "
                          "created_ms = ?3",
                          "ssi", account_id, url, now_ms);
}

static int url_row(sqlite3_stmt *st, void *p)
{
    const unsigned char *u = sqlite3_column_text(st, 0);
    *(char **)p = strdup(u ? (const char *)u : "");
    return 1;
}

int ig_sqlite_webhook_endpoint_get(struct ig_sqlite_cache *c, const char *account_id, char **url)
{
    *url = NULL;
    int rc = ig_sqlite_query(
        c, url_row, url, "SELECT url FROM webhook_endpoints WHERE account_id = ?", "s", account_id);
    return rc == 0 && !*url ? IG_ENOMEM : rc;
}

int ig_sqlite_webhook_account_event(struct ig_sqlite_cache *c, const struct ig_webhook_record *w,
                                    const char *payload)
{
    return ig_sqlite_exec(c, NULL,
                          "INSERT INTO webhook_deliveries (id, account_id, event_type, url, "
                          "payload, status, next_attempt_ms, created_ms) SELECT ?1, account_id, "
                          "?3, url, ?4, 'pending', ?5, ?5 FROM webhook_endpoints WHERE "
                          "account_id = ?2",
                          "ssssi", w->id, w->account_id, w->event_type, payload, w->created_ms);
}

static int int64_row(sqlite3_stmt *st, void *p)
{
    *(int64_t *)p = sqlite3_column_int64(st, 0);
    return 1;
}

int ig_sqlite_webhook_next_due(struct ig_sqlite_cache *c, int64_t *ms)
{
    *ms = 0;
    int rc = ig_sqlite_query(c, int64_row, ms,
                             "SELECT coalesce(min(next_attempt_ms), 0) FROM webhook_deliveries "
                             "WHERE status = 'pending'",
                             "");
    return rc == IG_ENOTFOUND ? 0 : rc;
}
