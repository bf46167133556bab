/* credits.c — GET /v1/credits (the key's account: balance, tier) and POST
 * /v1/images/estimate (what a generation body would cost, nothing held),
 * and credits as JSON. Store calls run on the thread pool. */
#include "api/credits.h"
#include "api/app.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "core/request.h"
#include "pipeline/reserve.h"
#include "store/byok.h"
#include "store/ledger.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *ig_api_credits_json(int64_t millicredits)
{
    char text[32];
    ig_credits_format(millicredits, text, sizeof text);
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

int ig_api_credits_of(const json_t *v, int64_t *out)
{
    int neg = 0;
    char text[48];
    if (json_is_integer(v)) {
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || fabs(d) > 1e12)
            return IG_EINVAL;
        snprintf(text, sizeof text, "%.3f", d);
        if (fabs(d * 1000 - round(d * 1000)) > 1e-6)
            return IG_EINVAL; /* more than three decimals */
    } else if (json_is_string(v) && json_string_length(v) < sizeof text) {
        ig_strlcpy(text, json_string_value(v), sizeof text);
    } else {
        return IG_EINVAL;
    }
    const char *p = text;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    /* "%.3f" of a whole number ends in ".000": parse accepts it. */
    if (ig_credits_parse(p, out))
        return IG_EINVAL;
    if (neg)
        *out = -*out;
    return 0;
}

json_t *ig_api_budgets_json(const struct ig_budgets *b)
{
    return json_pack("{s:o, s:o}", "daily",
                     b->day == IG_UNSET ? json_null() : ig_api_credits_json(b->day), "monthly",
                     b->month == IG_UNSET ? json_null() : ig_api_credits_json(b->month));
}

static int budget_of(const json_t *obj, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        *out = IG_UNCHANGED;
    else if (json_is_null(v))
        *out = IG_UNSET;
    else if (ig_api_credits_of(v, out) || *out < 0)
        return IG_EINVAL;
    return 0;
}

int ig_api_budgets_of(json_t *v, struct ig_budgets *out)
{
    static const char *const names[] = {"daily", "monthly", NULL};
    *out = (struct ig_budgets){IG_UNCHANGED, IG_UNCHANGED};
    if (!v)
        return 0;
    if (!json_is_object(v) || ig_app_json_unknown(v, names) || budget_of(v, "daily", &out->day) ||
        budget_of(v, "monthly", &out->month))
        return IG_EINVAL;
    return 0;
}

struct credits_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char tier[32]; /* the key's */
    struct ig_key_identity who;
    struct ig_account_record account;
    json_t *budgets, *alerts; /* GET /v1/credits */
    struct ig_http_req *http; /* answered once the reservations are read */
    char byok_names[IG_BYOK_MAX][32];
    const char *byok[IG_BYOK_MAX + 1]; /* the estimate: providers of the account's own keys */
    int rc;
    /* The estimate's request (parsed), or none for GET /v1/credits. */
    int estimate;
    struct ig_gen_request req;
};

static int collect_alert(const struct ig_budget_alert *a, void *ud)
{
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:I}", "subject", a->subject, "period", a->period, "threshold",
                  a->threshold, "created_at", (json_int_t)(a->created_ms / 1000));
    json_object_set_new(o, "spent", ig_api_credits_json(a->spent));
    json_object_set_new(o, "budget", ig_api_credits_json(a->budget));
    json_array_append_new(ud, o);
    return 0;
}

int ig_api_budget_alerts(struct ig_store *s, const char *account_id, json_t **out)
{
    /* This month's (UTC), the period of the longest budget. */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    *out = json_array();
    return *out ? ig_store_budget_alerts(s, account_id, (int64_t)timegm(&tm) * 1000, collect_alert,
                                         *out)
                : IG_ENOMEM;
}

/* The key's and its account's budgets as they stand this day and month. */
static int budgets_state(struct credits_ctx *c)
{
    char day[12], month[12], subject[IG_ID_MAX + 8];
    ig_budget_periods(ig_unix_ms(), day, month);
    const struct {
        const char *scope, *id;
        int64_t limit;
        const char *period, *period_id;
    } all[] = {
        {"key", c->who.id, c->who.key_budgets.day, "day", day},
        {"key", c->who.id, c->who.key_budgets.month, "month", month},
        {"account", c->account_id, c->account.budgets.day, "day", day},
        {"account", c->account_id, c->account.budgets.month, "month", month},
    };
    c->budgets = json_array();
    for (size_t i = 0; c->budgets && i < sizeof all / sizeof all[0]; i++) {
        if (all[i].limit < 0)
            continue;
        int64_t spent = 0;
        snprintf(subject, sizeof subject, "%s:%s", all[i].scope, all[i].id);
        int rc = ig_store_budget_spent(c->app->store, subject, all[i].period_id, &spent);
        if (rc)
            return rc;
        json_t *o = json_pack("{s:s, s:s, s:s}", "scope", all[i].scope, "period", all[i].period,
                              "period_id", all[i].period_id);
        json_object_set_new(o, "limit", ig_api_credits_json(all[i].limit));
        json_object_set_new(o, "spent", ig_api_credits_json(spent));
        json_object_set_new(o, "remaining",
                            ig_api_credits_json(all[i].limit > spent ? all[i].limit - spent : 0));
        json_array_append_new(c->budgets, o);
    }
    return c->budgets ? 0 : IG_ENOMEM;
}

static int collect_byok(const struct ig_byok_record *r, void *ud)
{
    struct credits_ctx *c = ud;
    size_t i = 0;
    while (c->byok[i])
        i++;
    if (i < IG_BYOK_MAX) {
        ig_strlcpy(c->byok_names[i], r->provider, sizeof c->byok_names[i]);
        c->byok[i] = c->byok_names[i];
    }
    return 0;
}

static void credits_work(void *p)
{
    struct credits_ctx *c = p;
    c->rc = ig_store_account_find(c->app->store, c->account_id, &c->account);
    if (c->rc == 0 && c->estimate)
        c->rc = ig_store_byok_list(c->app->store, c->account_id, collect_byok, c);
    if (c->rc == 0 && !c->estimate)
        c->rc = budgets_state(c);
    if (c->rc == 0 && !c->estimate)
        c->rc = ig_api_budget_alerts(c->app->store, c->account_id, &c->alerts);
}

static int markup_of(const struct credits_ctx *c)
{
    int m = ig_tiers_markup(&c->app->tiers, c->tier);
    return m < 0 ? 0 : m;
}

static void credits_free(struct credits_ctx *c)
{
    if (c->estimate)
        ig_gen_request_release(&c->req);
    json_decref(c->budgets);
    json_decref(c->alerts);
    free(c);
}

/* GET /v1/credits, once what the account's generations in flight have
 * reserved is known (the shared counters may answer later). */
static void credits_answer(void *ud, int ok, int64_t reserved, int64_t reset_ms)
{
    (void)ok;
    (void)reset_ms;
    struct credits_ctx *c = ud;
    /* Durable holds (jobs) are already out of the balance; reservations
     * of generations in flight are not. */
    int64_t held = c->account.held + reserved;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:i, s:b, s:s, s:O, s:O}", "object", "credits", "account_id",
                  c->account.id, "tier", c->tier, "markup_percent", markup_of(c), "metered",
                  c->account.metered, "usd_per_credit", c->app->cfg->credits_usd_per_credit,
                  "budgets", c->budgets, "alerts", c->alerts);
    json_object_set_new(o, "balance", ig_api_credits_json(c->account.balance));
    json_object_set_new(o, "open_holds", ig_api_credits_json(held));
    json_object_set_new(o, "available", ig_api_credits_json(c->account.balance - reserved));
    ig_app_respond_json(c->http, 200, o);
    credits_free(c);
}

static void credits_done(struct ig_http_req *req, void *p)
{
    struct credits_ctx *c = p;
    int64_t unit = 0;
    if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 403, "permission_error", "account_not_found", NULL,
                             "This key's account does not exist.");
    } else if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The account store is unavailable; try again.");
    } else if (!c->estimate) {
        c->http = req;
        ig_reserved_read(&c->app->pipeline, c->account_id, credits_answer, c);
        return;
    } else if (ig_gen_request_price(&c->req, c->byok, &unit)) {
        ig_api_respond_error(req, 503, "server_error", "model_not_priced", "model",
                             "'%s' has no price for size %s and quality %s.", c->req.model->id,
                             c->req.size, c->req.quality);
    } else {
        int markup = markup_of(c);
        int64_t each = ig_price_marked_up(unit, markup);
        json_t *o = json_pack(
            "{s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:b, s:s}", "object", "image.estimate", "model",
            c->req.model->id, "n", c->req.n, "size", c->req.size, "quality", c->req.quality, "tier",
            c->tier, "markup_percent", markup, "byok", c->byok[0] != NULL, "currency", "credits");
        json_object_set_new(o, "unit_price", ig_api_credits_json(unit));
        json_object_set_new(o, "unit_price_with_markup", ig_api_credits_json(each));
        json_object_set_new(o, "estimated_cost", ig_api_credits_json(each * c->req.n));
        json_object_set_new(o, "balance", ig_api_credits_json(c->account.balance));
        ig_app_respond_json(req, 200, o);
    }
    credits_free(c);
}

static struct credits_ctx *new_ctx(struct ig_app *app, struct ig_http_req *req)
{
    struct credits_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return NULL;
    }
    c->app = app;
    c->who = ig_api_req_of(req)->account;
    ig_strlcpy(c->account_id, c->who.account_id, sizeof c->account_id);
    ig_strlcpy(c->tier, c->who.tier, sizeof c->tier);
    return c;
}

static void start(struct ig_http_req *req, struct credits_ctx *c)
{
    if (ig_app_offload_or_refuse(req, credits_work, credits_done, c)) {
        if (c->estimate)
            ig_gen_request_release(&c->req);
        free(c);
    }
}

void ig_api_credits(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct credits_ctx *c = new_ctx(app, req);
    if (c)
        start(req, c);
}

void ig_api_estimate(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct credits_ctx *c = new_ctx(app, req);
    if (!c)
        return;
    struct ig_gen_error err;
    if (ig_gen_request_parse(req->body.data ? req->body.data : "", req->body.len, app->models,
                             &c->req, &err)) {
        free(c);
        ig_api_respond_gen_error(req, &err);
        return;
    }
    c->estimate = 1;
    start(req, c);
}
