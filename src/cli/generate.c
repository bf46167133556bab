/* generate.c — `imagegate generate "prompt" …`: asks a running gateway for
 * images (as base64, so nothing depends on URL reachability), writes each
 * to DIR/<generation id>-<index>.<format>, and prints the paths. */
#include "cli/cli.h"
#include "util/json.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/num.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct cli_option options[] = {
    {"model", 'm', "MODEL", "model id or alias (default: the gateway's default)"},
    {"n", 'n', "N", "number of images, 1-10 (default 1)"},
    {"size", 's', "WxH", "image size (default: the model's)"},
    {"seed", 0, "SEED", "seed for reproducible images"},
    {"format", 'f', "FORMAT", "png, jpeg or webp (default png)"},
    {"negative-prompt", 0, "TEXT", "what to keep out of the picture"},
    {"output", 'o', "DIR", "directory to write the images to (default .)"},
    {"server", 0, "URL", "gateway URL (default $IMAGEGATE_URL or http://127.0.0.1:8080)"},
    {"key", 'k', "KEY", "API key (default $IMAGEGATE_API_KEY)"},
};
enum { O_MODEL, O_N, O_SIZE, O_SEED, O_FORMAT, O_NEG, O_OUTPUT, O_SERVER, O_KEY, O_COUNT };

static const char usage[] = "imagegate generate \"PROMPT\" [options]";

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return IG_EIO;
    size_t w = fwrite(data, 1, len, f);
    int rc = (w == len && fclose(f) == 0) ? 0 : IG_EIO;
    if (w != len)
        fclose(f);
    return rc;
}

int cli_generate(int argc, char **argv)
{
    struct cli_args a;
    int rc = cli_parse(argc, argv, 2, usage, options, O_COUNT, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (a.npositional != 1 || !a.positional[0][0]) {
        fprintf(stderr, "imagegate: generate needs exactly one prompt (see --help)\n");
        return CLI_USAGE;
    }
    const char *key = cli_api_key(a.values[O_KEY]);
    if (!key) {
        fprintf(stderr, "imagegate: no API key: pass --key or set IMAGEGATE_API_KEY\n");
        return CLI_USAGE;
    }
    json_t *body =
        json_pack("{s:s, s:s}", "prompt", a.positional[0], "response_format", "b64_json");
    int64_t v;
    if (a.values[O_MODEL])
        json_object_set_new(body, "model", json_string(a.values[O_MODEL]));
    if (a.values[O_N]) {
        if (ig_parse_i64(a.values[O_N], strlen(a.values[O_N]), 1, 100, &v)) {
            fprintf(stderr, "imagegate: -n must be a whole number\n");
            json_decref(body);
            return CLI_USAGE;
        }
        json_object_set_new(body, "n", json_integer(v));
    }
    if (a.values[O_SEED]) {
        if (ig_parse_i64(a.values[O_SEED], strlen(a.values[O_SEED]), 0, INT64_MAX, &v)) {
            fprintf(stderr, "imagegate: --seed must be a whole number\n");
            json_decref(body);
            return CLI_USAGE;
        }
        json_object_set_new(body, "seed", json_integer(v));
    }
    if (a.values[O_SIZE])
        json_object_set_new(body, "size", json_string(a.values[O_SIZE]));
    if (a.values[O_FORMAT])
        json_object_set_new(body, "output_format", json_string(a.values[O_FORMAT]));
    if (a.values[O_NEG])
        json_object_set_new(body, "negative_prompt", json_string(a.values[O_NEG]));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    const char *dir = a.values[O_OUTPUT] ? a.values[O_OUTPUT] : ".";
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "imagegate: cannot create directory '%s': %s\n", dir, strerror(errno));
        free(text);
        return CLI_IO;
    }
    char url[2048];
    const char *server = cli_server_url(a.values[O_SERVER]);
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    snprintf(url, sizeof url, "%.*s/v1/images/generations", (int)sl, server);
    struct cli_response r;
    cli_http("POST", url, key, text, (size_t)1 << 30, &r);
    free(text);
    if (r.status != 200) {
        rc = cli_report_error("generate", &r);
        ig_buf_release(&r.body);
        return rc;
    }
    json_t *j = ig_json_loadb(r.body.data, r.body.len, 0, NULL);
    ig_buf_release(&r.body);
    json_t *data = j ? json_object_get(j, "data") : NULL;
    const char *fmt = j ? json_string_value(json_object_get(j, "output_format")) : NULL;
    json_t *meta = j ? json_object_get(j, "_metadata") : NULL;
    const char *gen = meta ? json_string_value(json_object_get(meta, "generation_id")) : NULL;
    if (!json_is_array(data) || !fmt || !gen) {
        fprintf(stderr, "imagegate: generate: the gateway's answer is not understood\n");
        json_decref(j);
        return CLI_FAILURE;
    }
    rc = CLI_OK;
    size_t i;
    json_t *item;
    json_array_foreach(data, i, item)
    {
        const char *b64 = json_string_value(json_object_get(item, "b64_json"));
        size_t n = b64 ? strlen(b64) : 0;
        uint8_t *bytes = malloc(n / 4 * 3 + 3);
        long len = bytes && b64 ? ig_base64_decode(b64, n, bytes) : IG_EINVAL;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%zu.%s", dir, gen, i, fmt);
        if (len < 0) {
            fprintf(stderr, "imagegate: generate: image %zu is not valid base64\n", i);
            rc = CLI_FAILURE;
        } else if (write_file(path, bytes, (size_t)len)) {
            fprintf(stderr, "imagegate: cannot write '%s': %s\n", path, strerror(errno));
            rc = CLI_IO;
        } else {
            printf("%s\n", path);
        }
        free(bytes);
    }
    json_decref(j);
    return rc;
}
