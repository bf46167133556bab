/* keys.c — POST /admin/keys, GET /admin/keys, DELETE /admin/keys/{id}.
 *
 * A new key is "ig_" + 43 base62 characters (256 random bits). Only its
 * SHA-256 is stored; the key itself is in the 201 answer and nowhere else.
 * A revocation is announced on the bus (core/bus.h), which drops the key
 * caches of this instance at once (and of the fleet's others), so the key
 * fails on the very next request. The last live admin key cannot be
 * revoked (409 last_admin_key): rotate by creating a new admin key first.
 * Store calls run on the thread pool. */
#include "api/app.h"
#include "api/audit.h"
#include "api/credits.h"
#include "api/handlers.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

enum key_op { KEY_CREATE, KEY_LIST, KEY_REVOKE, KEY_UPDATE };

struct key_ctx {
    struct ig_app *app;
    enum key_op op;
    struct ig_key_record rec;
    int new_account; /* KEY_CREATE without account_id: the key comes with an account */
    char secret_key[IG_KEY_LEN + 1];
    char id[IG_ID_MAX];
    char actor[IG_ID_MAX]; /* the admin key that acts */
    struct ig_key_patch patch;
    char tier[32];
    json_t *list;
    int rc;
};

/* A limit as JSON: the number, or null when it is the tier's default. */
static json_t *setting_json(int64_t v)
{
    return v == IG_UNSET ? json_null() : json_integer(v);
}

static json_t *key_json(const struct ig_key_record *k)
{
    json_t *sc = ig_app_scopes_json(k->scopes);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "id", k->id, "object", "api_key",
                          "account_id", k->account_id, "name", k->name, "prefix", k->prefix,
                          "scopes", sc, "created_at", (json_int_t)k->created_at);
    json_object_set_new(o, "revoked_at", k->revoked_at ? json_integer(k->revoked_at) : json_null());
    json_object_set_new(o, "tier", k->own_tier[0] ? json_string(k->own_tier) : json_null());
    json_object_set_new(o, "limits",
                        json_pack("{s:o, s:o, s:o}", "requests_per_minute",
                                  setting_json(k->limits.requests_per_minute), "images_per_minute",
                                  setting_json(k->limits.images_per_minute), "concurrent",
                                  setting_json(k->limits.concurrent)));
    json_object_set_new(o, "budgets", ig_api_budgets_json(&k->budgets));
    return o;
}

static int collect_key(const struct ig_key_record *k, void *ud)
{
    json_array_append_new(ud, key_json(k));
    return 0;
}

static void key_work(void *p)
{
    struct key_ctx *c = p;
    switch (c->op) {
    case KEY_CREATE:
        if (c->new_account) {
            struct ig_account_record a;
            memset(&a, 0, sizeof a);
            ig_strlcpy(a.id, c->rec.account_id, sizeof a.id);
            ig_strlcpy(a.name, c->rec.name, sizeof a.name);
            ig_strlcpy(a.tier, c->app->cfg->credits_default_tier, sizeof a.tier);
            a.metered = 1;
            a.created_at = c->rec.created_at;
            c->rc =
                ig_account_create(c->app->store, &a, c->app->initial_grant, &c->rec, ig_unix_ms());
        } else {
            c->rc = ig_key_insert_for_account(c->app->store, &c->rec);
            if (c->rc == IG_ENOTFOUND)
                c->rc = IG_ERANGE; /* told apart from a key not found */
        }
        break;
    case KEY_LIST:
        c->list = json_array();
        c->rc = c->list ? ig_store_key_list(c->app->store, collect_key, c->list) : IG_ENOMEM;
        break;
    case KEY_REVOKE:
        c->rc = ig_key_revoke(c->app->store, c->id, ig_unix_time());
        break;
    case KEY_UPDATE:
        c->rc = ig_store_key_update(c->app->store, c->id, &c->patch, &c->rec);
        break;
    }
    if (c->rc == 0 && c->op != KEY_LIST) {
        static const char *const actions[] = {"key.create", NULL, "key.revoke", "key.update"};
        ig_app_audit(c->app, c->actor, c->op == KEY_REVOKE ? NULL : c->rec.account_id,
                     actions[c->op], c->id, c->op == KEY_UPDATE ? key_json(&c->rec) : NULL);
    }
}

static void key_done(struct ig_http_req *req, void *p)
{
    struct key_ctx *c = p;
    if (c->rc == IG_ERANGE) {
        ig_api_respond_error(req, 404, "invalid_request_error", "account_not_found", "account_id",
                             "No account has id '%.64s'.", c->rec.account_id);
    } else if (c->rc == IG_ENOTFOUND) {
        ig_api_respond_error(req, 404, "invalid_request_error", "key_not_found", "id",
                             "No live API key has id '%.64s'.", c->id);
    } else if (c->rc == IG_ECONFLICT) {
        ig_api_respond_error(req, 409, "invalid_request_error", "last_admin_key", "id",
                             "'%.64s' is the last live key with the admin scope; create another "
                             "admin key before revoking it.",
                             c->id);
    } else if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The key store is unavailable; try again.");
    } else if (c->op == KEY_CREATE) {
        json_t *o = key_json(&c->rec);
        json_object_set_new(o, "key", json_string(c->secret_key));
        ig_app_respond_json(req, 201, o);
    } else if (c->op == KEY_LIST) {
        ig_app_respond_json(req, 200, json_pack("{s:s, s:O}", "object", "list", "data", c->list));
    } else if (c->op == KEY_UPDATE) {
        /* The key caches carry its tier, limits and budgets. */
        ig_bus_publish(c->app->bus, IG_TOPIC_ACCOUNT_CHANGED, c->rec.account_id);
        ig_app_respond_json(req, 200, key_json(&c->rec));
    } else {
        ig_bus_publish(c->app->bus, IG_TOPIC_KEY_REVOKED, c->id);
        ig_app_respond_json(
            req, 200, json_pack("{s:s, s:s, s:b}", "id", c->id, "object", "api_key", "deleted", 1));
    }
    json_decref(c->list);
    explicit_bzero(c->secret_key, sizeof c->secret_key);
    free(c);
}

/* A context for op, or NULL after answering 503. */
static struct key_ctx *new_ctx(struct ig_app *app, struct ig_http_req *req, enum key_op op)
{
    struct key_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return NULL;
    }
    c->app = app;
    c->op = op;
    ig_strlcpy(c->actor, ig_api_req_of(req)->key_id, sizeof c->actor);
    return c;
}

static void start(struct ig_http_req *req, struct key_ctx *c)
{
    if (ig_app_offload_or_refuse(req, key_work, key_done, c)) {
        free(c);
    }
}

static void bad(struct ig_http_req *req, struct key_ctx *c, json_t *j, const char *code,
                const char *param, const char *msg)
{
    ig_api_respond_error(req, 400, "invalid_request_error", code, param, "%s", msg);
    json_decref(j);
    free(c);
}

void ig_api_keys_create(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct key_ctx *c = new_ctx(app, req, KEY_CREATE);
    if (!c)
        return;
    static const char *const allowed[] = {"name", "scopes", "account_id", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j) {
        free(c);
        return;
    }
    if (ig_app_json_string(j, "name", "", c->rec.name, sizeof c->rec.name) || !c->rec.name[0]) {
        bad(req, c, j, "invalid_value", "name",
            "'name' is required: a string of 1 to 127 characters.");
        return;
    }
    json_t *scopes = json_object_get(j, "scopes");
    unsigned bits = IG_SCOPE_GENERATE;
    if (scopes && !json_is_null(scopes)) {
        if (!json_is_array(scopes) || json_array_size(scopes) == 0) {
            bad(req, c, j, "invalid_value", "scopes",
                "'scopes' must be a non-empty array of 'generate' and 'admin'.");
            return;
        }
        if (ig_app_json_scopes(scopes, &bits)) {
            bad(req, c, j, "invalid_value", "scopes",
                "Unknown scope; scopes are 'generate' and 'admin'.");
            return;
        }
    }
    if (ig_app_json_string(j, "account_id", "", c->rec.account_id, sizeof c->rec.account_id)) {
        bad(req, c, j, "invalid_value", "account_id",
            "'account_id' must be the id of an account (acct_…).");
        return;
    }
    json_decref(j);
    c->rec.scopes = bits;
    /* Without account_id a key comes with an account of its own; an admin
     * key is the operator's (rotation keeps the operator's account). */
    if (!c->rec.account_id[0] && (bits & IG_SCOPE_ADMIN))
        ig_strlcpy(c->rec.account_id, IG_OPERATOR_ACCOUNT, sizeof c->rec.account_id);
    if (!c->rec.account_id[0]) {
        c->new_account = 1;
        if (ig_random_id("acct_", 12, c->rec.account_id, sizeof c->rec.account_id)) {
            free(c);
            ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot make an account");
            return;
        }
    }
    if (ig_key_generate(c->secret_key) || ig_random_id("key_", 12, c->rec.id, sizeof c->rec.id)) {
        free(c);
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot make a key");
        return;
    }
    ig_sha256(c->secret_key, strlen(c->secret_key), c->rec.hash);
    snprintf(c->rec.prefix, sizeof c->rec.prefix, "%.7s", c->secret_key);
    c->rec.created_at = ig_unix_time();
    ig_strlcpy(c->id, c->rec.id, sizeof c->id);
    start(req, c);
}

void ig_api_keys_list(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct key_ctx *c = new_ctx(app, req, KEY_LIST);
    if (!c)
        return;
    start(req, c);
}

void ig_api_keys_revoke(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    if (strlen(param) >= IG_ID_MAX) {
        ig_api_respond_error(req, 404, "invalid_request_error", "key_not_found", "id",
                             "No live API key has that id.");
        return;
    }
    struct key_ctx *c = new_ctx(app, req, KEY_REVOKE);
    if (!c)
        return;
    ig_strlcpy(c->id, param, sizeof c->id);
    start(req, c);
}

/* A limit of a PATCH: absent stays, null returns to the tier's default,
 * else a whole number from 0 (no limit) up. 0 or IG_EINVAL. */
static int limit_of(json_t *limits, const char *name, int64_t *out)
{
    json_t *v = json_object_get(limits, name);
    if (!v)
        *out = IG_UNCHANGED;
    else if (json_is_null(v))
        *out = IG_UNSET;
    else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
             json_integer_value(v) <= 1000000000)
        *out = json_integer_value(v);
    else
        return IG_EINVAL;
    return 0;
}

/* PATCH /admin/keys/{id} {tier?, limits?: {requests_per_minute,
 * images_per_minute, concurrent}, budgets?: {daily, monthly}}: null
 * returns a setting to its default (the account's tier, the tier's
 * limits, no budget). Applies to the key's next request. */
void ig_api_keys_update(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    if (!param[0] || strlen(param) >= IG_ID_MAX) {
        ig_api_respond_error(req, 404, "invalid_request_error", "key_not_found", "id",
                             "No API key has that id.");
        return;
    }
    struct key_ctx *c = new_ctx(app, req, KEY_UPDATE);
    if (!c)
        return;
    static const char *const allowed[] = {"tier", "limits", "budgets", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j) {
        free(c);
        return;
    }
    ig_strlcpy(c->id, param, sizeof c->id);
    struct ig_key_patch *p = &c->patch;
    p->tier = NULL;
    json_t *tier = json_object_get(j, "tier");
    if (tier && json_is_null(tier)) {
        p->tier = "";
    } else if (tier) {
        if (ig_app_json_string(j, "tier", "", c->tier, sizeof c->tier) ||
            ig_tiers_markup(&app->tiers, c->tier) < 0) {
            bad(req, c, j, "invalid_value", "tier",
                "'tier' must be one of the tiers of credits.markups, or null for the "
                "account's.");
            return;
        }
        p->tier = c->tier;
    }
    json_t *limits = json_object_get(j, "limits");
    static const char *const limit_names[] = {"requests_per_minute", "images_per_minute",
                                              "concurrent", NULL};
    if (limits && (!json_is_object(limits) || ig_app_json_unknown(limits, limit_names) ||
                   limit_of(limits, "requests_per_minute", &p->limits.requests_per_minute) ||
                   limit_of(limits, "images_per_minute", &p->limits.images_per_minute) ||
                   limit_of(limits, "concurrent", &p->limits.concurrent))) {
        bad(req, c, j, "invalid_value", "limits",
            "'limits' is an object of requests_per_minute, images_per_minute and concurrent: "
            "each a whole number (0: no limit) or null (the tier's default).");
        return;
    }
    if (!limits)
        p->limits = (struct ig_key_limits){IG_UNCHANGED, IG_UNCHANGED, IG_UNCHANGED};
    if (ig_api_budgets_of(json_object_get(j, "budgets"), &p->budgets)) {
        bad(req, c, j, "invalid_value", "budgets",
            "'budgets' is an object of daily and monthly: credits of zero or more, or null "
            "(no budget).");
        return;
    }
    if (json_object_size(j) == 0) {
        bad(req, c, j, "invalid_value", NULL, "Give tier, limits and/or budgets to change.");
        return;
    }
    json_decref(j);
    start(req, c);
}
