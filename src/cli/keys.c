/* keys.c — `imagegate keys create|list|revoke`: API key administration
 * through a running gateway's /admin/keys (so revocation reaches the
 * gateway's key cache at once). Needs an admin-scoped key. */
#include "cli/cli.h"
#include "util/buf.h"
#include "util/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_option options[] = {
    {"scopes", 0, "LIST", "for create: comma-separated scopes (generate, admin)"},
    {"admin", 0, NULL, "for create: an admin key (scopes generate,admin), to rotate the admin key"},
    {"account", 0, "ID", "for create: the account it spends from (default: an account of its own)"},
    {"json", 0, NULL, "print the gateway's JSON answer"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "admin key (default $IMAGEGATE_API_KEY, then $IMAGEGATE_ADMIN_KEY)"},
};
enum { O_SCOPES, O_ADMIN, O_ACCOUNT, O_JSON, O_SERVER, O_KEY, O_COUNT };

static const char usage[] = "imagegate keys create NAME [--scopes generate,admin | --admin] "
                            "[--account ID] | keys list | keys revoke ID";

int cli_keys(int argc, char **argv)
{
    static const struct cli_verb verbs[] = {{"create", 2}, {"list", 1}, {"revoke", 2}, {NULL, 0}};
    struct cli_args a;
    const char *verb, *key;
    char server[1024];
    int rc = cli_admin_start(argc, argv, usage, options, O_COUNT, O_KEY, O_SERVER, verbs, &a, &verb,
                             &key, server, sizeof server);
    if (rc || !verb)
        return rc;
    char url[2048];
    char *body = NULL;
    const char *method = "GET";
    if (strcmp(verb, "create") == 0) {
        json_t *j = json_pack("{s:s}", "name", a.positional[1]);
        if (a.values[O_ADMIN] && a.values[O_SCOPES]) {
            fprintf(stderr, "imagegate: --admin and --scopes do not go together\n");
            json_decref(j);
            return CLI_USAGE;
        }
        if (a.values[O_ADMIN]) {
            json_object_set_new(j, "scopes", json_pack("[s, s]", "generate", "admin"));
        } else if (a.values[O_SCOPES]) {
            json_t *sc = json_array();
            char tmp[256];
            ig_strlcpy(tmp, a.values[O_SCOPES], sizeof tmp);
            for (char *p = tmp; *p;) {
                char *comma = strchr(p, ',');
                if (comma)
                    *comma = '\0';
                json_array_append_new(sc, json_string(p));
                p += strlen(p) + (comma ? 1 : 0);
            }
            json_object_set_new(j, "scopes", sc);
        }
        if (a.values[O_ACCOUNT])
            json_object_set_new(j, "account_id", json_string(a.values[O_ACCOUNT]));
        body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        method = "POST";
        snprintf(url, sizeof url, "%s/admin/keys", server);
    } else if (strcmp(verb, "list") == 0) {
        snprintf(url, sizeof url, "%s/admin/keys", server);
    } else {
        method = "DELETE";
        snprintf(url, sizeof url, "%s/admin/keys/%s", server, a.positional[1]);
    }
    struct cli_response r;
    json_t *j;
    rc = cli_admin_call(method, url, key, body, verb, &r, &j);
    free(body);
    if (rc)
        return rc;
    if (a.values[O_JSON] || !j) {
        printf("%s\n", r.body.data ? r.body.data : "");
    } else if (strcmp(verb, "create") == 0) {
        printf("%s\n", json_string_value(json_object_get(j, "key")));
        fprintf(stderr, "created %s (%s) in account %s; the key above is shown only once\n",
                json_string_value(json_object_get(j, "id")),
                json_string_value(json_object_get(j, "name")),
                json_string_value(json_object_get(j, "account_id")));
    } else if (strcmp(verb, "list") == 0) {
        size_t i;
        json_t *k;
        printf("%-28s %-10s %-16s %-20s %s\n", "ID", "PREFIX", "SCOPES", "NAME", "STATUS");
        json_array_foreach(json_object_get(j, "data"), i, k)
        {
            char scopes[64] = "";
            size_t si;
            json_t *s;
            json_array_foreach(json_object_get(k, "scopes"), si, s)
            {
                size_t used = strlen(scopes);
                snprintf(scopes + used, sizeof scopes - used, "%s%s", si ? "," : "",
                         json_string_value(s));
            }
            printf("%-28s %-10s %-16s %-20s %s\n", json_string_value(json_object_get(k, "id")),
                   json_string_value(json_object_get(k, "prefix")), scopes,
                   json_string_value(json_object_get(k, "name")),
                   json_is_null(json_object_get(k, "revoked_at")) ? "live" : "revoked");
        }
    } else {
        printf("revoked %s\n", a.positional[1]);
    }
    json_decref(j);
    ig_buf_release(&r.body);
    return CLI_OK;
}
