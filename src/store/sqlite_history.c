/* sqlite_history.c — an account's generations, newest first; see
 * sqlite_history.h. One statement serves a page, a filtered page and one
 * generation: absent filters are NULL and match everything. */
#include "store/sqlite_history.h"
#include "util/err.h"

struct history_each {
    int (*cb)(const struct ig_history_row *, void *);
    void *ud;
};

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int history_row(sqlite3_stmt *st, void *p)
{
    struct history_each *e = p;
    struct ig_history_row r = {
        .id = col(st, 0),
        .model = col(st, 1),
        .provider = col(st, 2),
        .prompt = col(st, 3),
        .params_json = col(st, 4),
        .status = col(st, 5),
        .error = col(st, 6),
        .n = sqlite3_column_int(st, 7),
        .width = sqlite3_column_int(st, 8),
        .height = sqlite3_column_int(st, 9),
        .created_ms = sqlite3_column_int64(st, 10),
        .completed_ms = sqlite3_column_int64(st, 11),
        .latency_us = sqlite3_column_int64(st, 12),
        .cost = sqlite3_column_int64(st, 13),
        .images_json = col(st, 14),
    };
    return e->cb(&r, e->ud);
}

int ig_sqlite_generation_history(struct ig_sqlite_cache *c, const struct ig_history_query *q,
                                 int (*cb)(const struct ig_history_row *, void *), void *ud)
{
    struct history_each e = {cb, ud};
    int rc = ig_sqlite_query(
        c, history_row, &e,
        "SELECT g.id, g.model, g.provider, g.prompt, g.params, g.status, g.error, g.n, g.width, "
        "g.height, g.created_at, g.completed_at, g.latency_us, g.cost, "
        "(SELECT json_group_array(json(x)) FROM (SELECT json_object('sha256', b.sha256, "
        "'format', b.format, 'seed', j.value ->> 'seed') AS x FROM json_each(g.images) j "
        "JOIN blobs b ON b.sha256 = j.value ->> 'sha256' ORDER BY j.key)) "
        "FROM generations g WHERE g.account_id = ?1 AND (?2 IS NULL OR g.id = ?2) "
        "AND (?3 IS NULL OR g.id < ?3) AND (?4 IS NULL OR g.model = ?4) "
        "AND (?5 IS NULL OR g.status = ?5) ORDER BY g.id DESC LIMIT ?6",
        "sssssi", q->account_id, q->id, q->before_id, q->model, q->status,
        (int64_t)(q->limit > 0 ? q->limit : 1));
    return rc == IG_ENOTFOUND ? 0 : rc;
}

struct usage_each {
    int (*cb)(const struct ig_usage_row *, void *);
    void *ud;
};

static int usage_row(sqlite3_stmt *st, void *p)
{
    struct usage_each *e = p;
    struct ig_usage_row r = {
        .group = col(st, 0),
        .generations = sqlite3_column_int64(st, 1),
        .images = sqlite3_column_int64(st, 2),
        .cost = sqlite3_column_int64(st, 3),
        .failed = sqlite3_column_int64(st, 4),
        .p50_latency_us = sqlite3_column_int64(st, 5),
        .p95_latency_us = sqlite3_column_int64(st, 6),
    };
    return e->cb(&r, e->ud);
}

int ig_sqlite_usage(struct ig_sqlite_cache *c, const char *account_id, int64_t from_ms,
                    int64_t to_ms, enum ig_usage_group by,
                    int (*cb)(const struct ig_usage_row *, void *), void *ud)
{
    struct usage_each e = {cb, ud};
/* Percentiles by rank within each group (window functions): the
 * ceil(p * n)-th smallest latency. One account's rows, or every
 * account's (the operator's view). */
#define USAGE_SQL(where)                                                                           \
    "WITH g AS (SELECT CASE ?4 WHEN 1 THEN model WHEN 2 THEN "                                     \
    "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch') WHEN 3 THEN coalesce(key_id, '') "       \
    "WHEN 4 THEN coalesce(account_id, '') ELSE 'all' END AS grp, status, latency_us, cost, "       \
    "json_array_length(images) AS imgs FROM generations WHERE " where " AND created_at >= ?2 "     \
    "AND created_at < ?3), "                                                                       \
    "r AS (SELECT grp, latency_us, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY latency_us) "      \
    "AS rn, COUNT(*) OVER (PARTITION BY grp) AS cnt FROM g) "                                      \
    "SELECT t.grp, t.n, t.images, t.cost, t.failed, "                                              \
    "(SELECT latency_us FROM r WHERE r.grp = t.grp AND r.rn = (r.cnt * 50 + 99) / 100), "          \
    "(SELECT latency_us FROM r WHERE r.grp = t.grp AND r.rn = (r.cnt * 95 + 99) / 100) "           \
    "FROM (SELECT grp, count(*) AS n, sum(imgs) AS images, sum(cost) AS cost, "                    \
    "sum(status = 'failed') AS failed FROM g GROUP BY grp) AS t ORDER BY t.grp"
    int rc = account_id ? ig_sqlite_query(c, usage_row, &e, USAGE_SQL("account_id = ?1"), "siii",
                                          account_id, from_ms, to_ms, (int64_t)by)
                        : ig_sqlite_query(c, usage_row, &e, USAGE_SQL("?1 IS NULL"), "siii",
                                          account_id, from_ms, to_ms, (int64_t)by);
    return rc == IG_ENOTFOUND ? 0 : rc;
}
