/* cli.h — the imagegate command line: subcommands over the library.
 *
 * Each subcommand declares its options in a table (struct cli_option); the
 * same table drives parsing and --help. Exit codes are shared (see
 * enum cli_exit) and documented in the README. */
#ifndef IG_CLI_H
#define IG_CLI_H

#include "upstream/fetch.h"
#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>

enum cli_exit {
    CLI_OK = 0,
    CLI_FAILURE = 1,     /* anything not below */
    CLI_USAGE = 2,       /* bad command line */
    CLI_AUTH = 3,        /* 401 or 403 from the gateway */
    CLI_REJECTED = 4,    /* the gateway refused the request (4xx) */
    CLI_UNAVAILABLE = 5, /* 429 or 5xx: try again later */
    CLI_CONNECT = 6,     /* the gateway could not be reached */
    CLI_IO = 7,          /* local files could not be written */
};

struct cli_option {
    const char *name;    /* long name, without "--" */
    char short_name;     /* 0: none */
    const char *metavar; /* NULL: a flag without a value */
    const char *help;
};

struct cli_args {
    const char *values[32]; /* by option index; flags get "1" */
    const char *positional[8];
    int npositional;
};

/* Parses argv[first..] against options. On error prints to stderr and
 * returns CLI_USAGE; "--help" prints usage and returns -1. */
int cli_parse(int argc, char **argv, int first, const char *usage, const struct cli_option *options,
              size_t noptions, struct cli_args *out);
void cli_print_help(const char *usage, const struct cli_option *options, size_t noptions);

/* HTTP to a running gateway (libcurl, blocking). status is the HTTP status
 * or 0 when no answer came; body holds the answer, bounded by max_body. */
#define cli_response ig_fetch_result
int cli_http(const char *method, const char *url, const char *key, const char *json_body,
             size_t max_body, struct cli_response *out);
/* Maps a response to an exit code, printing the gateway's error message. */
int cli_report_error(const char *what, const struct cli_response *r);
/* The server URL and key from options or the environment. */
const char *cli_server_url(const char *option);
const char *cli_api_key(const char *option);
/* A subcommand's verbs: the name and how many positional arguments it
 * takes, the verb's own included. */
struct cli_verb {
    const char *name;
    int npositional;
};
/* The verb a's positional arguments name (one of verbs, NULL-terminated,
 * with its count of arguments), or NULL after printing usage. */
const char *cli_verb_of(const struct cli_args *a, const struct cli_verb *verbs, const char *usage);
/* Sends an admin call and reads its JSON answer: CLI_OK with *r (the
 * caller releases r->body) and *j (NULL when the answer is not JSON), or
 * the exit code after reporting the failure (r released). */
int cli_admin_call(const char *method, const char *url, const char *key, const char *body,
                   const char *what, struct cli_response *r, json_t **j);
/* For an admin subcommand: the key (*key) and the gateway's base URL
 * without trailing slashes (into base). CLI_OK, or CLI_USAGE after saying
 * that no key was given. */
int cli_admin_target(const char *key_option, const char *server_option, const char **key,
                     char *base, size_t size);
/* The start every admin subcommand shares: parses argv (options, then
 * verbs), finds the verb, the key and the base URL. CLI_OK, or the exit
 * code to return (CLI_OK for --help, with *verb NULL). */
int cli_admin_start(int argc, char **argv, const char *usage, const struct cli_option *options,
                    size_t noptions, int key_option, int server_option,
                    const struct cli_verb *verbs, struct cli_args *a, const char **verb,
                    const char **key, char *base, size_t size);

/* Prints a JSON number as the gateway wrote it (credits may be 10.5);
 * "-" for anything else. */
void cli_print_number(const json_t *v);
/* POST /admin/accounts/{account_id}/credits {amount, reason}: prints the
 * balance after (or the JSON, raw). An exit code. */
int cli_grant(const char *base, const char *key, const char *account_id, const char *amount,
              const char *reason, int raw);

int cli_serve(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_accounts(int argc, char **argv);
int cli_usage(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_credits(int argc, char **argv);
int cli_config(int argc, char **argv);

#endif
