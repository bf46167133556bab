/* usage.c — `imagegate usage` (GET /admin/usage: the operator's view of
 * every account, or one), `imagegate history` (GET /v1/generations: the
 * key's own account's generations, newest first) and `imagegate credits
 * show|grant` (GET /v1/credits; POST /admin/accounts/{id}/credits), through
 * a running gateway. */
#include "cli/cli.h"
#include "util/buf.h"
#include "util/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends "&name=value" (the first "?") with value percent-encoded. */
static int query_add(struct ig_buf *url, const char *name, const char *value)
{
    if (!value)
        return 0;
    int rc = ig_buf_printf(url, "%c%s=", strchr(url->data ? url->data : "", '?') ? '&' : '?', name);
    for (const unsigned char *p = (const unsigned char *)value; rc == 0 && *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            rc = ig_buf_printf(url, "%c", *p);
        else
            rc = ig_buf_printf(url, "%%%02X", *p);
    }
    return rc;
}

/* GETs url and prints its JSON (with --json) or hands it to print. */
static int get_and_print(const char *url, const char *key, const char *what, int raw,
                         void (*print)(json_t *j))
{
    struct cli_response r;
    json_t *j;
    int rc = cli_admin_call("GET", url, key, NULL, what, &r, &j);
    if (rc)
        return rc;
    if (raw || !j)
        printf("%s\n", r.body.data ? r.body.data : "");
    else
        print(j);
    json_decref(j);
    ig_buf_release(&r.body);
    return CLI_OK;
}

/* A query parameter a listing's option fills (def when not given). */
struct listing_param {
    const char *param;
    int option;
    const char *def;
};

/* A read-only listing: its options (key, server and json among them), the
 * path it GETs and the query parameter each option fills. */
struct listing {
    const char *usage, *path, *what;
    const struct cli_option *options;
    size_t noptions;
    int key, server, json;
    const struct listing_param *query; /* ends with a NULL param */
    void (*print)(json_t *j);
};

static int run_listing(int argc, char **argv, const struct listing *l)
{
    struct cli_args a;
    int rc = cli_parse(argc, argv, 2, l->usage, l->options, l->noptions, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    const char *key;
    char base[1024];
    if (a.npositional) {
        cli_print_help(l->usage, l->options, l->noptions);
        return CLI_USAGE;
    }
    if (cli_admin_target(a.values[l->key], a.values[l->server], &key, base, sizeof base))
        return CLI_USAGE;
    struct ig_buf url;
    ig_buf_init(&url, 8192);
    rc = ig_buf_printf(&url, "%s%s", base, l->path);
    for (size_t i = 0; rc == 0 && l->query[i].param; i++) {
        const char *v = a.values[l->query[i].option];
        rc = query_add(&url, l->query[i].param, v ? v : l->query[i].def);
    }
    rc =
        rc ? CLI_USAGE : get_and_print(url.data, key, l->what, a.values[l->json] != NULL, l->print);
    ig_buf_release(&url);
    return rc;
}

static void print_usage_row(const char *name, json_t *row)
{
    printf("%-32s %8lld %8lld %8lld  ", name,
           (long long)json_integer_value(json_object_get(row, "generations")),
           (long long)json_integer_value(json_object_get(row, "images")),
           (long long)json_integer_value(json_object_get(row, "failed")));
    cli_print_number(json_object_get(row, "cost"));
    printf("\n");
}

static void print_usage(json_t *j)
{
    printf("usage %s .. %s\n", json_string_value(json_object_get(j, "start_date")),
           json_string_value(json_object_get(j, "end_date")));
    printf("%-32s %8s %8s %8s  %s\n", "GROUP", "GENS", "IMAGES", "FAILED", "COST");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(j, "data"), i, row)
    {
        const char *g = json_string_value(json_object_get(row, "group"));
        print_usage_row(g ? g : "?", row);
    }
    print_usage_row("total", json_object_get(j, "totals"));
}

static const struct cli_option usage_options[] = {
    {"account", 0, "ID", "one account (default: every account)"},
    {"start", 0, "YYYY-MM-DD", "first day (UTC; default: 29 days ago)"},
    {"end", 0, "YYYY-MM-DD", "last day (UTC; default: today)"},
    {"group-by", 0, "WHAT", "model, day, key or account"},
    {"json", 0, NULL, "print the gateway's JSON answer"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "admin key (default $IMAGEGATE_API_KEY, then $IMAGEGATE_ADMIN_KEY)"},
};
enum { U_ACCOUNT, U_START, U_END, U_GROUP, U_JSON, U_SERVER, U_KEY, U_COUNT };

int cli_usage(int argc, char **argv)
{
    static const struct listing_param query[] = {{"account_id", U_ACCOUNT, NULL},
                                                 {"start_date", U_START, NULL},
                                                 {"end_date", U_END, NULL},
                                                 {"group_by", U_GROUP, NULL},
                                                 {NULL, 0, NULL}};
    static const struct listing l = {
        "imagegate usage [--account ID] [--start DAY] [--end DAY] [--group-by WHAT]",
        "/admin/usage",
        "usage",
        usage_options,
        U_COUNT,
        U_KEY,
        U_SERVER,
        U_JSON,
        query,
        print_usage};
    return run_listing(argc, argv, &l);
}

static void print_history(json_t *j)
{
    printf("%-38s %-26s %-10s %s  %s\n", "ID", "MODEL", "STATUS", "COST", "CREATED");
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(j, "data"), i, g)
    {
        printf("%-38s %-26s %-10s ", json_string_value(json_object_get(g, "id")),
               json_string_value(json_object_get(g, "model")),
               json_string_value(json_object_get(g, "status")));
        cli_print_number(json_object_get(g, "cost"));
        printf("  %lld\n", (long long)json_integer_value(json_object_get(g, "created_at")));
    }
    json_t *next = json_object_get(j, "next_cursor");
    if (json_is_string(next))
        printf("more: --cursor %s\n", json_string_value(next));
}

static const struct cli_option history_options[] = {
    {"limit", 'n', "N", "how many (default 20)"},
    {"model", 0, "MODEL", "only this model"},
    {"status", 0, "STATUS", "only succeeded or failed"},
    {"cursor", 0, "ID", "the page after the one that named this cursor"},
    {"json", 0, NULL, "print the gateway's JSON answer"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "API key (default $IMAGEGATE_API_KEY): its account's history"},
};
enum { H_LIMIT, H_MODEL, H_STATUS, H_CURSOR, H_JSON, H_SERVER, H_KEY, H_COUNT };

int cli_history(int argc, char **argv)
{
    static const struct listing_param query[] = {{"limit", H_LIMIT, "20"},
                                                 {"model", H_MODEL, NULL},
                                                 {"status", H_STATUS, NULL},
                                                 {"cursor", H_CURSOR, NULL},
                                                 {NULL, 0, NULL}};
    static const struct listing l = {
        "imagegate history [--limit N] [--model M] [--status S] [--cursor ID]",
        "/v1/generations",
        "history",
        history_options,
        H_COUNT,
        H_KEY,
        H_SERVER,
        H_JSON,
        query,
        print_history};
    return run_listing(argc, argv, &l);
}

static void print_credits(json_t *j)
{
    printf("%s tier %s balance ", json_string_value(json_object_get(j, "account_id")),
           json_string_value(json_object_get(j, "tier")));
    cli_print_number(json_object_get(j, "balance"));
    printf(" open holds ");
    cli_print_number(json_object_get(j, "open_holds"));
    printf("\n");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(j, "budgets"), i, b)
    {
        printf("budget %s %s (%s): spent ", json_string_value(json_object_get(b, "scope")),
               json_string_value(json_object_get(b, "period")),
               json_string_value(json_object_get(b, "period_id")));
        cli_print_number(json_object_get(b, "spent"));
        printf(" of ");
        cli_print_number(json_object_get(b, "limit"));
        printf("\n");
    }
}

static const struct cli_option credits_options[] = {
    {"reason", 0, "TEXT", "for grant: why (kept in the ledger)"},
    {"json", 0, NULL, "print the gateway's JSON answer"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "show: the account's key; grant: an admin key"},
};
enum { C_REASON, C_JSON, C_SERVER, C_KEY, C_COUNT };

int cli_credits(int argc, char **argv)
{
    static const char usage[] = "imagegate credits show | credits grant ACCOUNT CREDITS "
                                "[--reason TEXT]";
    static const struct cli_verb verbs[] = {{"show", 1}, {"grant", 3}, {NULL, 0}};
    struct cli_args a;
    const char *verb, *key;
    char base[1024];
    int rc = cli_admin_start(argc, argv, usage, credits_options, C_COUNT, C_KEY, C_SERVER, verbs,
                             &a, &verb, &key, base, sizeof base);
    if (rc || !verb)
        return rc;
    char url[2048];
    if (strcmp(verb, "show") == 0) {
        snprintf(url, sizeof url, "%s/v1/credits", base);
        return get_and_print(url, key, "credits", a.values[C_JSON] != NULL, print_credits);
    }
    return cli_grant(base, key, a.positional[1], a.positional[2], a.values[C_REASON],
                     a.values[C_JSON] != NULL);
}
