/* main.c — the imagegate program: a table of subcommands over the library. */
#include "cli/cli.h"
#include "upstream/fetch.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cli_serve, "run the gateway"},
    {"generate", cli_generate, "generate images through a running gateway"},
    {"keys", cli_keys, "create, list and revoke API keys"},
    {"accounts", cli_accounts, "create and list accounts, grant them credits"},
    {"credits", cli_credits, "show a key's credits and budgets, grant an account credits"},
    {"usage", cli_usage, "usage of every account or one (admin)"},
    {"history", cli_history, "a key's account's generations, newest first"},
    {"config", cli_config, "print the effective configuration (dump) or its reference (doc)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: imagegate COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n\n'imagegate COMMAND --help' shows a command's options.\n", "version",
            "print the version");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("imagegate 0.1.0\n");
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            ig_fetch_global_init();
            int rc = commands[i].run(argc, argv);
            ig_fetch_global_cleanup();
            return rc;
        }
    }
    fprintf(stderr, "imagegate: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
