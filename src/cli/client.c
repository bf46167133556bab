/* client.c — the CLI's HTTP client (libcurl easy interface; the CLI is not
 * an event loop) and its shared argument parsing and error reporting. */
#include "cli/cli.h"
#include "config.h"
#include "upstream/fetch.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_print_help(const char *usage, const struct cli_option *options, size_t noptions)
{
    printf("usage: %s\n\noptions:\n", usage);
    for (size_t i = 0; i < noptions; i++) {
        char left[64];
        if (options[i].short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", options[i].short_name, options[i].name,
                     options[i].metavar ? " " : "", options[i].metavar ? options[i].metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", options[i].name,
                     options[i].metavar ? " " : "", options[i].metavar ? options[i].metavar : "");
        printf("  %-28s %s\n", left, options[i].help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}

int cli_parse(int argc, char **argv, int first, const char *usage, const struct cli_option *options,
              size_t noptions, struct cli_args *out)
{
    memset(out, 0, sizeof *out);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(usage, options, noptions);
            return -1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (out->npositional >= (int)(sizeof out->positional / sizeof out->positional[0])) {
                fprintf(stderr, "imagegate: too many arguments\n");
                return CLI_USAGE;
            }
            out->positional[out->npositional++] = a;
            continue;
        }
        const char *inline_value = NULL;
        size_t match = noptions;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            for (size_t o = 0; o < noptions; o++)
                if (strlen(options[o].name) == n && strncmp(options[o].name, name, n) == 0)
                    match = o;
            if (eq)
                inline_value = eq + 1;
        } else if (a[2] == '\0') {
            for (size_t o = 0; o < noptions; o++)
                if (options[o].short_name == a[1])
                    match = o;
        }
        if (match == noptions) {
            fprintf(stderr, "imagegate: unknown option '%s' (see --help)\n", a);
            return CLI_USAGE;
        }
        if (!options[match].metavar) {
            if (inline_value) {
                fprintf(stderr, "imagegate: option '--%s' takes no value\n", options[match].name);
                return CLI_USAGE;
            }
            out->values[match] = "1";
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "imagegate: option '--%s' needs a value (%s)\n",
                        options[match].name, options[match].metavar);
                return CLI_USAGE;
            }
            inline_value = argv[++i];
        }
        out->values[match] = inline_value;
    }
    return 0;
}

const char *cli_server_url(const char *option)
{
    if (option)
        return option;
    const char *env = ig_config_env("IMAGEGATE_URL");
    return env && *env ? env : "http://127.0.0.1:8080";
}

const char *cli_api_key(const char *option)
{
    if (option)
        return option;
    const char *env = ig_config_env("IMAGEGATE_API_KEY");
    if (env && *env)
        return env;
    env = ig_config_env("IMAGEGATE_ADMIN_KEY");
    return env && *env ? env : NULL;
}

int cli_http(const char *method, const char *url, const char *key, const char *json_body,
             size_t max_body, struct cli_response *out)
{
    return ig_fetch(method, url, key, json_body, max_body, "imagegate-cli/0.1", out);
}

int cli_report_error(const char *what, const struct cli_response *r)
{
    if (r->status == 0) {
        fprintf(stderr, "imagegate: %s: cannot reach the gateway: %s\n", what, r->error);
        return CLI_CONNECT;
    }
    json_t *j = ig_json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *e = j ? json_object_get(j, "error") : NULL;
    const char *msg = e ? json_string_value(json_object_get(e, "message")) : NULL;
    const char *code = e ? json_string_value(json_object_get(e, "code")) : NULL;
    const char *param = e ? json_string_value(json_object_get(e, "param")) : NULL;
    fprintf(stderr, "imagegate: %s failed (HTTP %ld%s%s%s%s): %s\n", what, r->status,
            code ? ", " : "", code ? code : "", param ? ", param " : "", param ? param : "",
            msg ? msg : "no error message");
    json_decref(j);
    if (r->status == 401 || r->status == 403)
        return CLI_AUTH;
    if (r->status == 429 || r->status >= 500)
        return CLI_UNAVAILABLE;
    if (r->status >= 400)
        return CLI_REJECTED;
    return CLI_FAILURE;
}

int cli_admin_target(const char *key_option, const char *server_option, const char **key,
                     char *base, size_t size)
{
    *key = cli_api_key(key_option);
    if (!*key) {
        fprintf(stderr, "imagegate: no admin key: pass --key or set IMAGEGATE_ADMIN_KEY\n");
        return CLI_USAGE;
    }
    const char *server = cli_server_url(server_option);
    size_t n = strlen(server);
    while (n && server[n - 1] == '/')
        n--;
    snprintf(base, size, "%.*s", (int)n, server);
    return CLI_OK;
}

const char *cli_verb_of(const struct cli_args *a, const struct cli_verb *verbs, const char *usage)
{
    const char *verb = a->npositional ? a->positional[0] : NULL;
    for (const struct cli_verb *v = verbs; verb && v->name; v++)
        if (strcmp(v->name, verb) == 0 && v->npositional == (int)a->npositional)
            return verb;
    fprintf(stderr, "usage: %s\n", usage);
    return NULL;
}

int cli_admin_call(const char *method, const char *url, const char *key, const char *body,
                   const char *what, struct cli_response *r, json_t **j)
{
    cli_http(method, url, key, body, 16 << 20, r);
    if (r->status != 200 && r->status != 201) {
        int rc = cli_report_error(what, r);
        ig_buf_release(&r->body);
        return rc;
    }
    *j = ig_json_loadb(r->body.data, r->body.len, 0, NULL);
    return CLI_OK;
}

int cli_admin_start(int argc, char **argv, const char *usage, const struct cli_option *options,
                    size_t noptions, int key_option, int server_option,
                    const struct cli_verb *verbs, struct cli_args *a, const char **verb,
                    const char **key, char *base, size_t size)
{
    *verb = NULL;
    int rc = cli_parse(argc, argv, 2, usage, options, noptions, a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    const char *v = cli_verb_of(a, verbs, usage);
    if (!v)
        return CLI_USAGE;
    if (cli_admin_target(a->values[key_option], a->values[server_option], key, base, size))
        return CLI_USAGE;
    *verb = v;
    return CLI_OK;
}

void cli_print_number(const json_t *v)
{
    if (json_is_integer(v))
        printf("%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        printf("%.3f", json_real_value(v));
    else
        printf("-");
}
