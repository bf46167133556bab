/* accounts.c — `imagegate accounts create|list|grant`: tenants and their
 * credits through a running gateway's /admin/accounts. Needs an
 * admin-scoped key. Amounts are credits as decimals ("100", "-2.5"). */
#include "cli/cli.h"
#include "util/buf.h"
#include "util/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_option options[] = {
    {"tier", 0, "TIER", "for create: the account's tier (default: credits.default_tier)"},
    {"grant", 0, "CREDITS", "for create: credits it starts with"},
    {"reason", 0, "TEXT", "for grant: why (kept in the ledger)"},
    {"json", 0, NULL, "print the gateway's JSON answer"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "admin key (default $IMAGEGATE_API_KEY, then $IMAGEGATE_ADMIN_KEY)"},
};
enum { O_TIER, O_GRANT, O_REASON, O_JSON, O_SERVER, O_KEY, O_COUNT };

static const char usage[] = "imagegate accounts create NAME [--tier T] [--grant CREDITS] | "
                            "accounts list | accounts grant ID CREDITS [--reason TEXT]";

/* A JSON number as the gateway wrote it (credits may be 10.5). */
static void print_number(const json_t *v)
{
    if (json_is_integer(v))
        printf("%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        printf("%.3f", json_real_value(v));
    else
        printf("?");
}

int cli_accounts(int argc, char **argv)
{
    static const struct cli_verb verbs[] = {{"create", 2}, {"list", 1}, {"grant", 3}, {NULL, 0}};
    struct cli_args a;
    const char *verb, *key;
    char server[1024];
    int rc = cli_admin_start(argc, argv, usage, options, O_COUNT, O_KEY, O_SERVER, verbs, &a, &verb,
                             &key, server, sizeof server);
    if (rc || !verb)
        return rc;
    char url[2048];
    json_t *body = NULL;
    const char *method = "POST";
    if (strcmp(verb, "create") == 0) {
        body = json_pack("{s:s}", "name", a.positional[1]);
        if (a.values[O_TIER])
            json_object_set_new(body, "tier", json_string(a.values[O_TIER]));
        if (a.values[O_GRANT]) /* a string: the gateway checks it as credits */
            json_object_set_new(body, "grant", json_string(a.values[O_GRANT]));
        snprintf(url, sizeof url, "%s/admin/accounts", server);
    } else if (strcmp(verb, "list") == 0) {
        method = "GET";
        snprintf(url, sizeof url, "%s/admin/accounts", server);
    } else {
        body = json_pack("{s:s, s:s}", "amount", a.positional[2], "reason",
                         a.values[O_REASON] ? a.values[O_REASON] : "granted with the CLI");
        snprintf(url, sizeof url, "%s/admin/accounts/%s/credits", server, a.positional[1]);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct cli_response r;
    json_t *j;
    rc = cli_admin_call(method, url, key, text, verb, &r, &j);
    free(text);
    if (rc)
        return rc;
    if (a.values[O_JSON] || !j) {
        printf("%s\n", r.body.data ? r.body.data : "");
    } else if (strcmp(verb, "list") == 0) {
        size_t i;
        json_t *acct;
        printf("%-28s %-10s %-14s %s\n", "ID", "TIER", "BALANCE", "NAME");
        json_array_foreach(json_object_get(j, "data"), i, acct)
        {
            printf("%-28s %-10s ", json_string_value(json_object_get(acct, "id")),
                   json_string_value(json_object_get(acct, "tier")));
            print_number(json_object_get(acct, "balance"));
            printf("%*s%s\n", 4, "", json_string_value(json_object_get(acct, "name")));
        }
    } else {
        /* create: the new account's id; grant: its balance now. */
        const char *id = json_string_value(json_object_get(j, "id"));
        printf("%s balance ", id ? id : a.positional[1]);
        print_number(json_object_get(j, "balance"));
        printf("\n");
    }
    json_decref(j);
    ig_buf_release(&r.body);
    return CLI_OK;
}
