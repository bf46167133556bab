#include "api/errors.h"
#include "core/models.h"
#include "providers/provider.h"
#include "core/request.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct ig_models *models;

static void setup(void)
{
    cr_assert_eq(ig_models_new(&models), 0);
    cr_assert_eq(ig_providers_add_builtin(models), 0);
}

static void teardown(void)
{
    ig_models_free(models);
}

TestSuite(request, .init = setup, .fini = teardown);

static int parse(const char *body, struct ig_gen_request *r, struct ig_gen_error *e)
{
    return ig_gen_request_parse(body, strlen(body), models, r, e);
}

static void expect_error(const char *body, int status, const char *code, const char *param)
{
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_neq(parse(body, &r, &e), 0, "accepted: %s", body);
    cr_assert_eq(ig_api_error_status(e.kind), status, "%s: status %d", body,
                 ig_api_error_status(e.kind));
    cr_assert_str_eq(e.code, code, "%s: code %s (%s)", body, e.code, e.message);
    cr_assert_str_eq(e.param, param ? param : "", "%s: param %s", body, e.param);
    cr_assert_gt(strlen(e.message), 5);
}

Test(request, defaults)
{
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(parse("{\"prompt\":\"a cat\"}", &r, &e), 0);
    cr_assert_str_eq(r.model->id, "local/procedural");
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.width, 1024);
    cr_assert_eq(r.height, 1024);
    cr_assert_str_eq(r.size, "1024x1024");
    cr_assert_eq(r.response_format, IG_RESP_URL);
    cr_assert_eq(r.output_format, IG_FMT_PNG);
    cr_assert_eq(r.seed, -1);
    ig_gen_request_release(&r);
}

Test(request, every_field)
{
    struct ig_gen_request r;
    struct ig_gen_error e;
    const char *body =
        "{\"prompt\":\"a cat\",\"model\":\"local\",\"n\":3,\"size\":\"640x480\","
        "\"quality\":\"hd\",\"style\":\"natural\",\"response_format\":\"b64_json\","
        "\"output_format\":\"webp\",\"output_compression\":70,\"user\":\"u1\","
        "\"negative_prompt\":\"red\",\"seed\":4294967295,\"steps\":30,\"guidance\":7.5,"
        "\"metadata\":{\"campaign\":\"x\"},\"background\":\"opaque\",\"moderation\":\"auto\","
        "\"stream\":false,\"partial_images\":0}";
    cr_assert_eq(parse(body, &r, &e), 0, "%s", e.message);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.width, 640);
    cr_assert_eq(r.height, 480);
    cr_assert_str_eq(r.style, "natural");
    cr_assert_eq(r.response_format, IG_RESP_B64);
    cr_assert_eq(r.output_format, IG_FMT_WEBP);
    cr_assert_eq(r.output_compression, 70);
    cr_assert_eq(r.seed, 4294967295LL);
    cr_assert_eq(r.steps, 30);
    cr_assert_float_eq(r.guidance, 7.5, 1e-9);
    cr_assert_not_null(r.metadata);
    char *norm = ig_gen_request_normalized_json(&r);
    cr_assert(strstr(norm, "\"seed\":4294967295"));
    cr_assert(strstr(norm, "\"model\":\"local/procedural\""));
    cr_assert_null(strstr(norm, "a cat"), "the normalized params hold no prompt");
    free(norm);
    ig_gen_request_release(&r);
}

Test(request, null_means_absent)
{
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(parse("{\"prompt\":\"x\",\"n\":null,\"size\":null,\"model\":null}", &r, &e), 0);
    cr_assert_eq(r.n, 1);
    ig_gen_request_release(&r);
}

Test(request, rejections)
{
    expect_error("", 400, "invalid_json", NULL);
    expect_error("{\"prompt\":", 400, "invalid_json", NULL);
    expect_error("[1,2]", 400, "invalid_json", NULL);
    expect_error("{\"prompt\":\"a\",\"prompt\":\"b\"}", 400, "invalid_json", NULL);
    expect_error("{}", 400, "missing_required_parameter", "prompt");
    expect_error("{\"prompt\":\"\"}", 400, "invalid_value", "prompt");
    expect_error("{\"prompt\":\"   \"}", 400, "invalid_value", "prompt");
    expect_error("{\"prompt\":5}", 400, "invalid_type", "prompt");
    expect_error("{\"prompt\":\"x\",\"model\":\"no-such-model\"}", 404, "model_not_found", "model");
    /* A model a provider would serve, with no provider configured: 503 naming the setting. */
    expect_error("{\"prompt\":\"x\",\"model\":\"dall-e-3\"}", 503, "no_provider", "model");
    expect_error("{\"prompt\":\"x\",\"model\":\"stability/core\"}", 503, "no_provider", "model");
    expect_error("{\"prompt\":\"x\",\"model\":7}", 400, "invalid_type", "model");
    expect_error("{\"prompt\":\"x\",\"n\":0}", 400, "invalid_value", "n");
    expect_error("{\"prompt\":\"x\",\"n\":11}", 400, "invalid_value", "n");
    expect_error("{\"prompt\":\"x\",\"n\":\"2\"}", 400, "invalid_type", "n");
    expect_error("{\"prompt\":\"x\",\"n\":1.5}", 400, "invalid_type", "n");
    expect_error("{\"prompt\":\"x\",\"size\":\"4096x4096\"}", 400, "invalid_value", "size");
    expect_error("{\"prompt\":\"x\",\"size\":\"big\"}", 400, "invalid_value", "size");
    expect_error("{\"prompt\":\"x\",\"quality\":\"ultra\"}", 400, "invalid_value", "quality");
    expect_error("{\"prompt\":\"x\",\"style\":\"gothic\"}", 400, "invalid_value", "style");
    expect_error("{\"prompt\":\"x\",\"response_format\":\"file\"}", 400, "invalid_value",
                 "response_format");
    expect_error("{\"prompt\":\"x\",\"output_format\":\"gif\"}", 400, "invalid_value",
                 "output_format");
    expect_error("{\"prompt\":\"x\",\"output_compression\":101}", 400, "invalid_value",
                 "output_compression");
    expect_error("{\"prompt\":\"x\",\"seed\":-1}", 400, "invalid_value", "seed");
    expect_error("{\"prompt\":\"x\",\"seed\":4294967296}", 400, "invalid_value", "seed");
    expect_error("{\"prompt\":\"x\",\"steps\":0}", 400, "invalid_value", "steps");
    expect_error("{\"prompt\":\"x\",\"guidance\":\"high\"}", 400, "invalid_type", "guidance");
    expect_error("{\"prompt\":\"x\",\"guidance\":51}", 400, "invalid_value", "guidance");
    expect_error("{\"prompt\":\"x\",\"metadata\":[1]}", 400, "invalid_type", "metadata");
    expect_error("{\"prompt\":\"x\",\"metadata\":{\"a\":1}}", 400, "invalid_type", "metadata");
    expect_error("{\"prompt\":\"x\",\"background\":\"transparent\"}", 400, "unsupported_value",
                 "background");
    expect_error("{\"prompt\":\"x\",\"stream\":true,\"n\":2}", 400, "invalid_value", "n");
    expect_error("{\"prompt\":\"x\",\"partial_images\":1}", 400, "invalid_value", "partial_images");
    expect_error("{\"prompt\":\"x\",\"moderation\":\"low\"}", 400, "unsupported_parameter",
                 "moderation");
    expect_error("{\"prompt\":\"x\",\"stream\":\"yes\"}", 400, "invalid_type", "stream");
    expect_error("{\"prompt\":\"x\",\"colour\":\"red\"}", 400, "unknown_parameter", "colour");
    /* webhook_url (a job's): an http(s) URL of printable ASCII, bounded. */
    expect_error("{\"prompt\":\"x\",\"webhook_url\":\"ftp://a\"}", 400, "invalid_value",
                 "webhook_url");
    expect_error("{\"prompt\":\"x\",\"webhook_url\":\"http://\"}", 400, "invalid_value",
                 "webhook_url");
    expect_error("{\"prompt\":\"x\",\"webhook_url\":\"https://a/\\u00e9\"}", 400, "invalid_value",
                 "webhook_url");
    expect_error("{\"prompt\":\"x\",\"webhook_url\":7}", 400, "invalid_type", "webhook_url");
    char long_url[2100];
    snprintf(long_url, sizeof long_url, "{\"prompt\":\"x\",\"webhook_url\":\"https://a/%02040d\"}",
             0);
    expect_error(long_url, 400, "invalid_value", "webhook_url");
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(
        parse("{\"prompt\":\"x\",\"webhook_url\":\"https://hooks.example.com/a?b=1\"}", &r, &e), 0);
    cr_assert_str_eq(r.webhook_url, "https://hooks.example.com/a?b=1");
    ig_gen_request_release(&r);
}

Test(request, prompt_length_counts_characters)
{
    size_t n = 32000;
    char *body = malloc(n * 2 + 64);
    /* 32000 two-byte characters: at the limit, accepted. */
    strcpy(body, "{\"prompt\":\"");
    size_t o = strlen(body);
    for (size_t i = 0; i < n; i++) {
        body[o++] = '\xc3';
        body[o++] = '\xa9';
    }
    strcpy(body + o, "\"}");
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(parse(body, &r, &e), 0, "%s", e.message);
    ig_gen_request_release(&r);
    /* One more character: refused. */
    body[o++] = 'x';
    strcpy(body + o, "\"}");
    expect_error(body, 400, "string_above_max_length", "prompt");
    free(body);
}

/* ---- edits: a form made by our own writer, parsed back ---- */

#include "image/codec.h"
#include "util/multipart.h"

static void make_png(int w, int h, struct ig_buf *out)
{
    uint8_t *rgb = calloc((size_t)w * (size_t)h, 3);
    cr_assert_eq(ig_encode(rgb, w, h, IG_FMT_PNG, 0, NULL, 1 << 20, out), 0);
    free(rgb);
}

static int parse_form(struct ig_multipart *m, enum ig_operation op, struct ig_gen_request *r,
                      struct ig_gen_error *e)
{
    struct ig_form form;
    char why[256];
    cr_assert_eq(ig_multipart_finish(m), 0);
    cr_assert_eq(ig_formdata_parse(m->content_type, strlen(m->content_type), m->body.data,
                                   m->body.len, 32, &form, why, sizeof why),
                 0, "%s", why);
    int rc = ig_edit_request_parse(&form, op, 1 << 22, models, r, e);
    ig_form_release(&form);
    ig_multipart_release(m);
    return rc;
}

Test(request, edit_form_fields_and_image_move_into_the_request)
{
    struct ig_buf png;
    make_png(80, 64, &png);
    struct ig_multipart m;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    ig_multipart_field(&m, "prompt", "a lighthouse");
    ig_multipart_field(&m, "n", "3");
    ig_multipart_field(&m, "strength", "0.25");
    ig_multipart_field(&m, "seed", "77");
    ig_multipart_file(&m, "image", "x.png", "image/png", png.data, png.len);
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(parse_form(&m, IG_OP_EDIT, &r, &e), 0, "%s", e.message);
    cr_assert_eq(r.op, IG_OP_EDIT);
    cr_assert_str_eq(r.prompt, "a lighthouse");
    cr_assert_eq(r.n, 3);
    cr_assert_float_eq(r.strength, 0.25, 1e-9);
    cr_assert_eq(r.seed, 77);
    cr_assert_eq(r.ninputs, 1);
    cr_assert_eq(r.inputs[0].len, png.len);
    cr_assert_eq(memcmp(r.inputs[0].bytes, png.data, png.len), 0);
    cr_assert_eq(r.height, 64);
    cr_assert_eq(r.width, 80, "the local renderer edits at the input's size");
    cr_assert_str_eq(r.size, "80x64");
    cr_assert_null(r.mask.bytes);
    ig_gen_request_release(&r);
    ig_buf_release(&png);
}

Test(request, variation_refuses_prompt_and_edit_needs_one)
{
    struct ig_buf png;
    make_png(64, 64, &png);
    struct ig_multipart m;
    struct ig_gen_request r;
    struct ig_gen_error e;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    ig_multipart_field(&m, "prompt", "x");
    ig_multipart_file(&m, "image", "x.png", "image/png", png.data, png.len);
    cr_assert_eq(parse_form(&m, IG_OP_VARIATION, &r, &e), IG_EINVAL);
    cr_assert_str_eq(e.param, "prompt");
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    ig_multipart_file(&m, "image", "x.png", "image/png", png.data, png.len);
    cr_assert_eq(parse_form(&m, IG_OP_EDIT, &r, &e), IG_EINVAL);
    cr_assert_str_eq(e.code, "missing_required_parameter");
    cr_assert_str_eq(e.param, "prompt");
    ig_buf_release(&png);
}

Test(request, generations_do_not_take_edit_fields)
{
    expect_error("{\"prompt\":\"x\",\"strength\":0.5}", 400, "unknown_parameter", "strength");
    expect_error("{\"prompt\":\"x\",\"input_fidelity\":\"high\"}", 400, "unknown_parameter",
                 "input_fidelity");
}
