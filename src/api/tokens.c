/* tokens.c — POST /v1/tokens: a short-lived bearer token (core/token.h)
 * for the key that asks, so a browser or a mobile client never holds the
 * key itself: {scopes (within the key's; default its own), expires_in
 * (seconds, 1 to 86,400; default 3,600)} → 201 {token, key_id, scopes,
 * expires_at}. A token cannot mint tokens. Nothing is stored: the token
 * is signed, and it is worth what its key is (revoking the key ends it). */
#include "api/app.h"
#include "api/handlers.h"
#include "core/token.h"
#include "util/clock.h"
#include "util/err.h"

#include <string.h>

void ig_api_tokens_create(struct ig_app *app, struct ig_http_req *req, const char *param)
{
    (void)param;
    struct ig_api_req *ar = ig_api_req_of(req);
    if (ar->via_token) {
        ig_api_respond_error(req, 403, "permission_error", "token_cannot_mint", NULL,
                             "A token cannot mint tokens; use the API key.");
        return;
    }
    static const char *const allowed[] = {"scopes", "expires_in", NULL};
    json_t *j = ig_app_json_body(req, allowed);
    if (!j)
        return;
    json_t *scopes = json_object_get(j, "scopes"), *ttl = json_object_get(j, "expires_in");
    unsigned bits = ar->key_scopes;
    const char *bad = NULL;
    if (scopes && !json_is_null(scopes) &&
        (!json_is_array(scopes) || json_array_size(scopes) == 0 ||
         ig_app_json_scopes(scopes, &bits)))
        bad = "scopes";
    int64_t seconds = 3600;
    if (!bad && ttl && !json_is_null(ttl)) {
        if (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
            json_integer_value(ttl) > IG_TOKEN_TTL_MAX)
            bad = "expires_in";
        else
            seconds = json_integer_value(ttl);
    }
    json_decref(j);
    if (bad) {
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_value", bad,
                             "Invalid '%s': scopes is a non-empty array of 'generate' and "
                             "'admin'; expires_in 1 to %d seconds.",
                             bad, IG_TOKEN_TTL_MAX);
        return;
    }
    if (bits & ~ar->key_scopes) {
        ig_api_respond_error(req, 403, "permission_error", "insufficient_scope", "scopes",
                             "A token's scopes must be within its key's.");
        return;
    }
    int64_t expires = ig_unix_time() + seconds;
    char token[IG_TOKEN_MAX];
    if (ig_token_mint(app->secret, sizeof app->secret, ar->key_id, bits, expires, token)) {
        ig_api_respond_error(req, 500, "server_error", NULL, NULL, "cannot mint a token");
        return;
    }
    ig_http_add_header(req, "Cache-Control", "no-store");
    ig_app_respond_json(req, 201,
                        json_pack("{s:s, s:s, s:s, s:o, s:I}", "object", "token", "token", token,
                                  "key_id", ar->key_id, "scopes", ig_app_scopes_json(bits),
                                  "expires_at", (json_int_t)expires));
    explicit_bzero(token, sizeof token);
}
