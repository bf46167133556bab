/* usage.c — GET /v1/usage?start_date=&end_date=&group_by=model|day|key:
 * the key's account's generations, images, cost, failures and latency
 * percentiles over a range of days (UTC, both ends included; default: the
 * last 30 days), in total and by group. The cache-hit rate is 0 until the
 * cache exists. Store calls run on the thread pool. */
#include "api/app.h"
#include "api/credits.h"
#include "api/handlers.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS   86400000LL
#define MAX_DAYS 3660

struct usage_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    int64_t from_ms, to_ms;
    enum ig_usage_group by;
    char start[16], end[16], group_name[8];
    int admin; /* the operator's view: account_id may be empty (every account) */
    json_t *groups, *totals, *alerts;
    int rc;
};

static json_t *row_json(const struct ig_usage_row *r)
{
    json_t *o = json_pack("{s:I, s:I, s:I}", "generations", (json_int_t)r->generations, "images",
                          (json_int_t)r->images, "failed", (json_int_t)r->failed);
    json_object_set_new(o, "cost", ig_api_credits_json(r->cost));
    json_object_set_new(o, "error_rate",
                        json_real(r->generations ? (double)r->failed / (double)r->generations : 0));
    json_object_set_new(o, "p50_latency", json_real((double)r->p50_latency_us / 1e6));
    json_object_set_new(o, "p95_latency", json_real((double)r->p95_latency_us / 1e6));
    json_object_set_new(o, "cache_hit_rate", json_real(0));
    return o;
}

static int collect_group(const struct ig_usage_row *r, void *ud)
{
    json_t *o = row_json(r);
    json_object_set_new(o, "group", json_string(r->group ? r->group : ""));
    json_array_append_new(ud, o);
    return 0;
}

static int keep_total(const struct ig_usage_row *r, void *ud)
{
    json_t **t = ud;
    json_decref(*t);
    *t = row_json(r);
    return 0;
}

static void usage_work(void *p)
{
    struct usage_ctx *c = p;
    c->groups = json_array();
    const char *acct = c->account_id[0] ? c->account_id : NULL;
    c->rc = ig_store_usage(c->app->store, acct, c->from_ms, c->to_ms, IG_USAGE_ALL, keep_total,
                           &c->totals);
    if (c->rc == 0 && c->by != IG_USAGE_ALL)
        c->rc = ig_store_usage(c->app->store, acct, c->from_ms, c->to_ms, c->by, collect_group,
                               c->groups);
    if (c->rc == 0 && acct)
        c->rc = ig_api_budget_alerts(c->app->store, acct, &c->alerts);
}

static void usage_done(struct ig_http_req *req, void *p)
{
    struct usage_ctx *c = p;
    if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "Usage is unavailable; try again.");
    } else {
        if (!c->totals) {
            struct ig_usage_row none = {.group = "all"};
            c->totals = row_json(&none);
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "object", "usage", "start_date", c->start,
                              "end_date", c->end, "totals", c->totals);
        /* The orchestrator API's names for the two totals its clients read. */
        json_object_set(o, "total_generations", json_object_get(c->totals, "generations"));
        json_object_set(o, "total_cost", json_object_get(c->totals, "cost"));
        json_object_set_new(o, "group_by",
                            c->by == IG_USAGE_ALL ? json_null() : json_string(c->group_name));
        json_object_set(o, "data", c->groups);
        /* This month's budget alerts (of one account). */
        json_object_set_new(o, "alerts", c->alerts ? json_incref(c->alerts) : json_array());
        if (c->admin)
            json_object_set_new(o, "account_id",
                                c->account_id[0] ? json_string(c->account_id) : json_null());
        ig_app_respond_json(req, 200, o);
    }
    json_decref(c->alerts);
    json_decref(c->groups);
    json_decref(c->totals);
    free(c);
}

/* "YYYY-MM-DD" (UTC) to the unix milliseconds of its midnight: 0 or -1. */
static int day_ms(const char *text, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strlen(text) == 10 ? strptime(text, "%Y-%m-%d", &tm) : NULL;
    if (!end || *end || tm.tm_year < 70 || tm.tm_year > 1100)
        return -1;
    time_t t = timegm(&tm);
    char back[16];
    struct tm check;
    gmtime_r(&t, &check);
    strftime(back, sizeof back, "%Y-%m-%d", &check);
    if (strcmp(back, text) != 0)
        return -1; /* 2026-02-30 and the like */
    *out = (int64_t)t * 1000;
    return 0;
}

static void format_day(int64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

/* The key's own account's usage, or (admin) any account's or all. */
static void usage_start(struct ig_app *app, struct ig_http_req *req, int admin)
{
    struct usage_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    c->admin = admin;
    const char *bad = NULL;
    if (!admin)
        ig_strlcpy(c->account_id, ig_api_req_of(req)->account.account_id, sizeof c->account_id);
    else if (ig_app_query_param(req, "account_id", c->account_id, sizeof c->account_id) < 0)
        bad = "account_id";
    int64_t today = ig_unix_ms() / DAY_MS * DAY_MS, first = today - 29 * DAY_MS, last = today;
    int got = bad ? 0 : ig_app_query_param(req, "start_date", c->start, sizeof c->start);
    if (!bad && (got < 0 || (got && day_ms(c->start, &first))))
        bad = "start_date";
    got = bad ? 0 : ig_app_query_param(req, "end_date", c->end, sizeof c->end);
    if (!bad && (got < 0 || (got && day_ms(c->end, &last))))
        bad = "end_date";
    if (!bad && (last < first || (last - first) / DAY_MS >= MAX_DAYS))
        bad = "end_date";
    got = bad ? 0 : ig_app_query_param(req, "group_by", c->group_name, sizeof c->group_name);
    if (!bad && got < 0)
        bad = "group_by";
    else if (!bad && got) {
        if (!strcmp(c->group_name, "model"))
            c->by = IG_USAGE_MODEL;
        else if (!strcmp(c->group_name, "day"))
            c->by = IG_USAGE_DAY;
        else if (!strcmp(c->group_name, "key"))
            c->by = IG_USAGE_KEY;
        else if (admin && !strcmp(c->group_name, "account"))
            c->by = IG_USAGE_ACCOUNT;
        else
            bad = "group_by";
    }
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': dates are YYYY-MM-DD (UTC; the end on or after the "
                             "start, at most %d days), group_by is model, day or key%s.",
                             bad, MAX_DAYS, admin ? " (or account)" : "");
        free(c);
        return;
    }
    c->from_ms = first;
    c->to_ms = last + DAY_MS; /* the end day is included */
    format_day(first, c->start, sizeof c->start);
    format_day(last, c->end, sizeof c->end);
    if (ig_app_offload_or_refuse(req, usage_work, usage_done, c)) {
        free(c);
    }
}

void ig_api_usage(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    usage_start(app, req, 0);
}

/* GET /admin/usage?account_id=&start_date=&end_date=&group_by=: the
 * operator's view, of one account or (without account_id) of all, which
 * group_by=account splits. */
void ig_api_admin_usage(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    usage_start(app, req, 1);
}
