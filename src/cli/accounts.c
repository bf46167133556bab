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

int cli_grant(const char *base, const char *key, const char *account_id, const char *amount,
              const char *reason, int raw)
{
    json_t *body = json_pack("{s:s, s:s}", "amount", amount, "reason",
                             reason ? reason : "granted with the CLI");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[2048];
    snprintf(url, sizeof url, "%s/admin/accounts/%s/credits", base, account_id);
    struct cli_response r;
    json_t *j;
    int rc = cli_admin_call("POST", url, key, text, "grant", &r, &j);
    free(text);
    if (rc)
        return rc;
    if (raw || !j) {
        printf("%s\n", r.body.data ? r.body.data : "");
    } else {
        printf("%s balance ", account_id);
        cli_print_number(json_object_get(j, "balance"));
        printf("\n");
    }
    json_decref(j);
    ig_buf_release(&r.body);
    return CLI_OK;
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
    if (strcmp(verb, "grant") == 0)
        return cli_grant(server, key, a.positional[1], a.positional[2], a.values[O_REASON],
                         a.values[O_JSON] != NULL);
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
    } else {
        method = "GET";
        snprintf(url, sizeof url, "%s/admin/accounts", server);
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
            cli_print_number(json_object_get(acct, "balance"));
            printf("%*s%s\n", 4, "", json_string_value(json_object_get(acct, "name")));
        }
    } else {
        /* create: the new account's id and balance. */
        const char *id = json_string_value(json_object_get(j, "id"));
        printf("%s balance ", id ? id : a.positional[1]);
        cli_print_number(json_object_get(j, "balance"));
        printf("\n");
    }
    json_decref(j);
    ig_buf_release(&r.body);
    return CLI_OK;
}
