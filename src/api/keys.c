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

enum key_op { KEY_CREATE, KEY_LIST, KEY_REVOKE };

struct key_ctx {
    struct ig_app *app;
    enum key_op op;
    struct ig_key_record rec;
    int new_account; /* KEY_CREATE without account_id: the key comes with an account */
    char secret_key[IG_KEY_LEN + 1];
    char id[IG_ID_MAX];
    json_t *list;
    int rc;
};

static json_t *key_json(const struct ig_key_record *k)
{
    char scopes[64];
    ig_scopes_format(k->scopes, scopes, sizeof scopes);
    json_t *sc = json_array();
    for (char *p = scopes; *p;) {
        char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(sc, json_stringn(p, n));
        p += n + (comma ? 1 : 0);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}", "id", k->id, "object", "api_key",
                          "account_id", k->account_id, "name", k->name, "prefix", k->prefix,
                          "scopes", sc, "created_at", (json_int_t)k->created_at);
    json_object_set_new(o, "revoked_at", k->revoked_at ? json_integer(k->revoked_at) : json_null());
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
        bits = 0;
        size_t i;
        json_t *s;
        json_array_foreach(scopes, i, s)
        {
            unsigned bit;
            if (!json_is_string(s) || strchr(json_string_value(s), ',') ||
                ig_scopes_parse(json_string_value(s), &bit) || bit == 0) {
                bad(req, c, j, "invalid_value", "scopes",
                    "Unknown scope; scopes are 'generate' and 'admin'.");
                return;
            }
            bits |= bit;
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
