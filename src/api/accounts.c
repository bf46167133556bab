/* accounts.c — POST /admin/accounts, GET /admin/accounts and POST
 * /admin/accounts/{id}/credits: the operator's view of tenants and their
 * credits. Amounts in JSON are credits as decimals ("10.5" or 10.5);
 * inside, millicredits. Store calls run on the thread pool. */
#include "api/app.h"
#include "api/audit.h"
#include "api/credits.h"
#include "api/handlers.h"
#include "api/idempotency.h"
#include "store/ledger.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum account_op { ACCOUNT_CREATE, ACCOUNT_LIST, ACCOUNT_CREDIT, ACCOUNT_UPDATE };

struct account_ctx {
    struct ig_app *app;
    enum account_op op;
    struct ig_account_record rec;
    int64_t amount;
    char reason[256];
    char actor[IG_ID_MAX]; /* the admin key that acts */
    struct ig_account_patch patch;
    json_t *list;
    int rc;
};

static json_t *account_json(const struct ig_account_record *a)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "id", a->id, "object", "account",
                          "name", a->name, "tier", a->tier, "metered", a->metered, "created_at",
                          (json_int_t)a->created_at);
    json_object_set_new(o, "balance", ig_api_credits_json(a->balance));
    json_object_set_new(o, "budgets", ig_api_budgets_json(&a->budgets));
    return o;
}

static int collect_account(const struct ig_account_record *a, void *ud)
{
    json_array_append_new(ud, account_json(a));
    return 0;
}

static void account_work(void *p)
{
    struct account_ctx *c = p;
    struct ig_store *s = c->app->store;
    switch (c->op) {
    case ACCOUNT_CREATE:
        c->rc = ig_account_create(s, &c->rec, c->amount, NULL, ig_unix_ms());
        if (c->rc == 0)
            c->rc = ig_store_account_find(s, c->rec.id, &c->rec);
        break;
    case ACCOUNT_LIST:
        c->list = json_array();
        c->rc = c->list ? ig_store_account_list(s, collect_account, c->list) : IG_ENOMEM;
        break;
    case ACCOUNT_UPDATE:
        c->patch.name = c->rec.name[0] ? c->rec.name : NULL;
        c->patch.tier = c->rec.tier[0] ? c->rec.tier : NULL;
        c->rc = ig_store_account_update(s, c->rec.id, &c->patch, &c->rec);
        break;
    case ACCOUNT_CREDIT:
        c->rc = ig_ledger_credit(s, c->rec.id, c->amount >= 0 ? IG_LEDGER_GRANT : IG_LEDGER_ADJUST,
                                 c->amount, c->reason, ig_unix_ms(), &c->rec.balance);
        break;
    }
    if (c->rc == 0 && c->op != ACCOUNT_LIST) {
        static const char *const actions[] = {"account.create", NULL, "account.credit",
                                              "account.update"};
        json_t *detail = c->op == ACCOUNT_CREDIT
                             ? json_pack("{s:o, s:s}", "amount", ig_api_credits_json(c->amount),
                                         "reason", c->reason)
                             : account_json(&c->rec);
        ig_app_audit(c->app, c->actor, c->rec.id, actions[c->op], c->rec.id, detail);
    }
}

static void account_done(struct ig_http_req *req, void *p)
{
    struct account_ctx *c = p;
    if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 404, "invalid_request_error", "account_not_found", "id",
                             "No account has id '%.64s'.", c->rec.id);
    } else if (c->rc == IG_EFUNDS) {
        char have[32];
        ig_credits_format(c->rec.balance, have, sizeof have);
        ig_api_respond_error(req, 409, "invalid_request_error", "insufficient_credits", "amount",
                             "The adjustment would take the balance (%s) below zero.", have);
    } else if (c->rc == IG_EEXISTS) {
        ig_api_respond_error(req, 409, "invalid_request_error", "account_exists", "id",
                             "An account with id '%.64s' exists.", c->rec.id);
    } else if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The account store is unavailable; try again.");
    } else if (c->op == ACCOUNT_CREATE) {
        ig_app_respond_json(req, 201, account_json(&c->rec));
    } else if (c->op == ACCOUNT_UPDATE) {
        /* Keys carry their account's tier and budgets in the key caches. */
        ig_bus_publish(c->app->bus, IG_TOPIC_ACCOUNT_CHANGED, c->rec.id);
        ig_app_respond_json(req, 200, account_json(&c->rec));
    } else if (c->op == ACCOUNT_LIST) {
        ig_app_respond_json(req, 200, json_pack("{s:s, s:O}", "object", "list", "data", c->list));
    } else {
        /* The balances cache holds what the store said before this. */
        ig_bus_publish(c->app->bus, IG_TOPIC_ACCOUNT_CHANGED, c->rec.id);
        json_t *o = json_pack("{s:s, s:s}", "object", "credits", "account_id", c->rec.id);
        json_object_set_new(o, "balance", ig_api_credits_json(c->rec.balance));
        ig_app_respond_json(req, 200, o);
    }
    json_decref(c->list);
    free(c);
}

static void start(struct ig_http_req *req, struct account_ctx *c)
{
    if (ig_app_offload_or_refuse(req, account_work, account_done, c)) {
        free(c);
    }
}

static void start_grant(struct ig_app *app, struct ig_http_req *req, void *c)
{
    (void)app;
    start(req, c);
}

static struct account_ctx *new_ctx(struct ig_app *app, struct ig_http_req *req, enum account_op op)
{
    struct account_ctx *c = calloc(1, sizeof *c);
    if (!c)
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
    else {
        c->app = app;
        c->op = op;
        ig_strlcpy(c->actor, ig_api_req_of(req)->key_id, sizeof c->actor);
    }
    return c;
}

void ig_api_accounts_create(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    static const char *const allowed[] = {"name", "tier", "grant", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j)
        return;
    struct account_ctx *c = new_ctx(app, req, ACCOUNT_CREATE);
    const char *bad = NULL;
    if (c && ig_app_json_string(j, "name", "", c->rec.name, sizeof c->rec.name))
        bad = "name";
    else if (c && ig_app_json_string(j, "tier", app->cfg->credits_default_tier, c->rec.tier,
                                     sizeof c->rec.tier))
        bad = "tier";
    else if (c && ig_tiers_markup(&app->tiers, c->rec.tier) < 0)
        bad = "tier";
    json_t *grant = c ? json_object_get(j, "grant") : NULL;
    if (c && !bad) {
        c->amount = app->initial_grant;
        if (grant && (ig_api_credits_of(grant, &c->amount) || c->amount < 0))
            bad = "grant";
    }
    json_decref(j);
    if (!c)
        return;
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': name is a string of up to 127 characters, tier one "
                             "of credits.markups, grant credits of zero or more.",
                             bad);
        free(c);
        return;
    }
    if (ig_random_id("acct_", 12, c->rec.id, sizeof c->rec.id)) {
        free(c);
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot make an account");
        return;
    }
    if (!c->rec.name[0])
        ig_strlcpy(c->rec.name, c->rec.id, sizeof c->rec.name);
    c->rec.metered = 1;
    c->rec.created_at = ig_unix_time();
    start(req, c);
}

void ig_api_accounts_list(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct account_ctx *c = new_ctx(app, req, ACCOUNT_LIST);
    if (c)
        start(req, c);
}

/* POST /admin/accounts/{id}/credits {amount, reason}: a positive amount is
 * a grant, a negative one an adjustment (never below zero). */
void ig_api_account_credits(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    const char *slash = strchr(param, '/');
    if (!slash || strcmp(slash, "/credits") != 0 || slash == param ||
        (size_t)(slash - param) >= IG_ID_MAX) {
        ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                             "Unknown path: use /admin/accounts/{id}/credits.");
        return;
    }
    static const char *const allowed[] = {"amount", "reason", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j)
        return;
    struct account_ctx *c = new_ctx(app, req, ACCOUNT_CREDIT);
    if (!c) {
        json_decref(j);
        return;
    }
    memcpy(c->rec.id, param, (size_t)(slash - param));
    json_t *amount = json_object_get(j, "amount");
    int bad_amount = !amount || ig_api_credits_of(amount, &c->amount) || c->amount == 0;
    int bad_reason = ig_app_json_string(j, "reason", "", c->reason, sizeof c->reason) != 0;
    json_decref(j);
    if (bad_amount || bad_reason) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value",
                             bad_amount ? "amount" : "reason",
                             bad_amount ? "'amount' is required: credits other than zero, with at "
                                          "most three decimals (negative to take away)."
                                        : "'reason' is a string of up to 255 characters.");
        free(c);
        return;
    }
    /* A grant retried with its Idempotency-Key is granted once. */
    ig_idem_run(app, req, start_grant, free, c, 0);
}

/* PATCH /admin/accounts/{id} {name?, tier?, budgets?}: a new tier or
 * budget applies to the account's next requests (its keys' cached
 * entries are dropped). */
void ig_api_account_update(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    if (strchr(param, '/') || !param[0] || strlen(param) >= IG_ID_MAX) {
        ig_api_respond_error(req, 404, "invalid_request_error", "not_found", NULL,
                             "Unknown path: use /admin/accounts/{id}.");
        return;
    }
    static const char *const allowed[] = {"name", "tier", "budgets", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j)
        return;
    struct account_ctx *c = new_ctx(app, req, ACCOUNT_UPDATE);
    if (!c) {
        json_decref(j);
        return;
    }
    ig_strlcpy(c->rec.id, param, sizeof c->rec.id);
    const char *bad = NULL;
    if (json_object_size(j) == 0)
        bad = "name";
    else if (ig_app_json_string(j, "name", "", c->rec.name, sizeof c->rec.name))
        bad = "name";
    else if (ig_app_json_string(j, "tier", "", c->rec.tier, sizeof c->rec.tier) ||
             (c->rec.tier[0] && ig_tiers_markup(&app->tiers, c->rec.tier) < 0))
        bad = "tier";
    else if (ig_api_budgets_of(json_object_get(j, "budgets"), &c->patch.budgets))
        bad = "budgets";
    json_decref(j);
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Give a name (1 to 127 characters), a tier of credits.markups "
                             "and/or budgets {daily, monthly} (credits, or null for none).");
        free(c);
        return;
    }
    start(req, c);
}
