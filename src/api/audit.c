/* audit.c — the audit trail: see audit.h. GET /admin/audit?account_id=
 * &action=&limit=&cursor= lists entries newest first; cursor is the seq
 * of the last entry of the page before. */
#include "api/audit.h"
#include "api/handlers.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

void ig_app_audit(struct ig_app *app, const char *actor, const char *account_id, const char *action,
                  const char *target, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    struct ig_audit_record r = {.created_ms = ig_unix_ms(),
                                .actor = actor && actor[0] ? actor : NULL,
                                .account_id = account_id && account_id[0] ? account_id : NULL,
                                .action = action,
                                .target = target,
                                .detail = text};
    int rc = ig_store_audit_append(app->store, &r);
    if (rc)
        ig_error("audit: cannot record %s of %s: %s", action, target ? target : "-",
                 ig_strerror(rc));
    free(text);
}

struct audit_ctx {
    struct ig_app *app;
    char account_id[IG_ID_MAX], action[64];
    struct ig_audit_query q;
    json_t *data;
    int64_t last_seq;
    int rc;
};

static int collect(const struct ig_audit_record *r, void *ud)
{
    struct audit_ctx *c = ud;
    json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "object", "audit_entry", "seq",
                          (json_int_t)r->seq, "created_at", (json_int_t)(r->created_ms / 1000),
                          "action", r->action ? r->action : "");
    json_object_set_new(o, "actor", r->actor ? json_string(r->actor) : json_null());
    json_object_set_new(o, "account_id", r->account_id ? json_string(r->account_id) : json_null());
    json_object_set_new(o, "target", r->target ? json_string(r->target) : json_null());
    json_t *d = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
    json_object_set_new(o, "detail", d ? d : json_null());
    json_array_append_new(c->data, o);
    c->last_seq = r->seq;
    return 0;
}

static void audit_work(void *p)
{
    struct audit_ctx *c = p;
    c->rc = ig_store_audit_list(c->app->store, &c->q, collect, c);
}

static void audit_done(struct ig_http_req *req, void *p)
{
    struct audit_ctx *c = p;
    if (c->rc) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "The audit store is unavailable; try again.");
    } else {
        int more = (int)json_array_size(c->data) == c->q.limit;
        json_t *o =
            json_pack("{s:s, s:O, s:b}", "object", "list", "data", c->data, "has_more", more);
        json_object_set_new(o, "next_cursor",
                            more ? json_sprintf("%lld", (long long)c->last_seq) : json_null());
        ig_app_respond_json(req, 200, o);
    }
    json_decref(c->data);
    free(c);
}

void ig_api_audit(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct audit_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->data = json_array())) {
        free(c);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    c->app = app;
    char limit[16] = "", cursor[24] = "";
    int a = ig_app_query_param(req, "account_id", c->account_id, sizeof c->account_id);
    int b = ig_app_query_param(req, "action", c->action, sizeof c->action);
    int l = ig_app_query_param(req, "limit", limit, sizeof limit);
    int k = ig_app_query_param(req, "cursor", cursor, sizeof cursor);
    char *lend = limit, *kend = cursor;
    long n = l == 1 ? strtol(limit, &lend, 10) : 50;
    long long seq = k == 1 ? strtoll(cursor, &kend, 10) : 0;
    const char *bad = a < 0 ? "account_id" : b < 0 ? "action" : NULL;
    if (!bad && (l < 0 || (l == 1 && (*lend || n < 1 || n > 500))))
        bad = "limit";
    if (!bad && (k < 0 || (k == 1 && (*kend || seq <= 0))))
        bad = "cursor";
    if (bad) {
        json_decref(c->data);
        free(c);
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': limit is 1 to 500, cursor a next_cursor this "
                             "endpoint gave.",
                             bad);
        return;
    }
    c->q.account_id = a == 1 ? c->account_id : NULL;
    c->q.action = b == 1 ? c->action : NULL;
    c->q.limit = (int)n;
    c->q.before_seq = seq;
    if (ig_app_offload_or_refuse(req, audit_work, audit_done, c)) {
        json_decref(c->data);
        free(c);
    }
}
