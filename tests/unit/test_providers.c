/* Protocol tests of the OpenAI adapter, the classification table and the
 * backoff: canned bytes in, exact requests and normalized results out. */
#include "providers/classify.h"
#include "pipeline/dispatcher.h"
#include "core/models.h"
#include "providers/routes.h"
#include "core/request.h"
#include "providers/common.h"
#include "providers/provider.h"
#include "util/crypto.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

static struct ig_models *models;
static const struct ig_deployment dep = {.provider = "openai",
                                         .model = "dall-e-3",
                                         .api_base = "http://up.example/v1/",
                                         .api_key = "sk-abc",
                                         .weight = 1,
                                         .timeout_ms = 5000};

static void setup(void)
{
    char err[512];
    setenv("OPENAI_API_KEY", "sk-abc", 1);
    unsetenv("OPENAI_BASE_URL");
    cr_assert_eq(ig_models_new(&models), 0);
    cr_assert_eq(ig_providers_add_builtin(models), 0);
    cr_assert_eq(ig_providers_add_from_env(models, err, sizeof err), 0);
}

static void teardown(void)
{
    ig_models_free(models);
}

TestSuite(openai, .init = setup, .fini = teardown);

static void parse_req(const char *body, struct ig_gen_request *r)
{
    struct ig_gen_error e;
    cr_assert_eq(ig_gen_request_parse(body, strlen(body), models, r, &e), 0, "%s", e.message);
}

/* line is one whole "Name: value" line of the request's headers. */
static int has_header(const struct ig_buf *h, const char *line)
{
    size_t n = strlen(line);
    const char *p = h->data;
    while (p && *p) {
        if (strncmp(p, line, n) == 0 && p[n] == '\r' && p[n + 1] == '\n')
            return 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

Test(openai, env_models_and_aliases)
{
    const struct ig_model *m = ig_models_find(models, "dall-e-3");
    cr_assert_not_null(m);
    cr_assert_str_eq(m->id, "openai/dall-e-3");
    cr_assert_eq(m->ndeployments, 1);
    cr_assert_str_eq(m->deployments[0].api_base, "https://api.openai.com/v1");
    cr_assert_str_eq(m->deployments[0].api_key, "sk-abc");
    cr_assert_not_null(ig_models_find(models, "openai/gpt-image-1"));
}

Test(openai, prepare_dalle3)
{
    struct ig_gen_request r;
    parse_req("{\"prompt\":\"a fox\",\"model\":\"dall-e-3\",\"size\":\"1024x1792\","
              "\"quality\":\"hd\",\"style\":\"vivid\",\"response_format\":\"url\"}",
              &r);
    struct ig_upstream_request up;
    cr_assert_eq(ig_provider_openai.prepare(&r, &dep, &up), 0);
    cr_assert_str_eq(up.method, "POST");
    cr_assert_str_eq(up.url, "http://up.example/v1/images/generations");
    cr_assert(has_header(&up.headers, "Authorization: Bearer sk-abc"));
    cr_assert(has_header(&up.headers, "Content-Type: application/json"));
    json_t *b = json_loadb(up.body, up.body_len, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(b, "model")), "dall-e-3");
    cr_assert_str_eq(json_string_value(json_object_get(b, "size")), "1024x1792");
    cr_assert_str_eq(json_string_value(json_object_get(b, "quality")), "hd");
    cr_assert_str_eq(json_string_value(json_object_get(b, "style")), "vivid");
    cr_assert_str_eq(json_string_value(json_object_get(b, "response_format")), "b64_json",
                     "never ask dall-e for expiring URLs");
    cr_assert_eq(json_integer_value(json_object_get(b, "n")), 1);
    json_decref(b);
    ig_upstream_request_release(&up);
    ig_gen_request_release(&r);
}

static void parse_reply(long status, const char *body, const char *headers,
                        struct ig_provider_result *out)
{
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    res.status = status;
    ig_buf_init(&res.body, 1 << 20);
    ig_buf_init(&res.headers, 1 << 16);
    ig_buf_puts(&res.body, body);
    if (headers)
        ig_buf_puts(&res.headers, headers);
    struct ig_gen_request r;
    parse_req("{\"prompt\":\"x\",\"model\":\"dall-e-3\"}", &r);
    ig_provider_openai.parse(&dep, &res, 0, out);
    ig_gen_request_release(&r);
    ig_buf_release(&res.body);
    ig_buf_release(&res.headers);
}

Test(openai, parse_images)
{
    struct ig_provider_result out;
    parse_reply(200,
                "{\"created\":1,\"data\":[{\"b64_json\":\"iVBORw0K\",\"revised_prompt\":\"rp\"},"
                "{\"url\":\"https://cdn.example/a.png\"}]}",
                NULL, &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_IMAGES);
    cr_assert_eq(out.nimages, 2);
    /* The base64 is kept as it came, for the store step to decode. */
    cr_assert_null(out.images[0].bytes);
    cr_assert_str_eq(out.images[0].b64, "iVBORw0K");
    cr_assert_eq(out.images[0].b64_len, 8);
    cr_assert_eq(ig_provider_image_sniff(&out.images[0]), IG_FMT_UNKNOWN); /* 6 bytes: too few */
    cr_assert_eq(ig_provider_image_decode(&out.images[0]), 0);
    cr_assert_eq(out.images[0].len, 6);
    cr_assert_eq(memcmp(out.images[0].bytes, "\x89PNG\r\n", 6), 0);
    cr_assert(ig_provider_image_b64_canonical(&out.images[0]));
    cr_assert_str_eq(out.images[0].revised_prompt, "rp");
    cr_assert_str_eq(out.images[1].url, "https://cdn.example/a.png");
    ig_provider_result_release(&out);
}

Test(openai, parse_malformed_is_retryable)
{
    const char *bodies[] = {"",
                            "{",
                            "{\"data\":[]}",
                            "{\"data\":[{\"nothing\":1}]}",
                            "{\"data\":[{\"b64_json\":\"!!!\"}]}",
                            "[1]"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct ig_provider_result out;
        parse_reply(200, bodies[i], NULL, &out);
        cr_assert_eq(out.outcome, IG_OUTCOME_ERROR, "%s", bodies[i]);
        cr_assert_eq(out.error_class, IG_ERRC_RETRYABLE, "%s", bodies[i]);
        cr_assert_eq(out.nimages, 0);
    }
}

Test(openai, parse_errors_classified)
{
    struct {
        long status;
        const char *body;
        enum ig_error_class want;
    } cases[] = {
        {400, "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\"}}",
         IG_ERRC_CLIENT},
        {400, "{\"error\":{\"message\":\"safety\",\"code\":\"content_policy_violation\"}}",
         IG_ERRC_CONTENT_POLICY},
        {400,
         "{\"error\":{\"message\":\"m\",\"type\":\"image_generation_user_error\","
         "\"code\":\"moderation_blocked\"}}",
         IG_ERRC_CONTENT_POLICY},
        {401, "{\"error\":{\"message\":\"key\"}}", IG_ERRC_AUTH},
        {403, "", IG_ERRC_AUTH},
        {402, "", IG_ERRC_QUOTA},
        {429, "{\"error\":{\"message\":\"q\",\"code\":\"insufficient_quota\"}}", IG_ERRC_QUOTA},
        {429, "{\"error\":{\"message\":\"slow down\"}}", IG_ERRC_RETRYABLE},
        {404, "{\"error\":\"no such model\"}", IG_ERRC_NOT_FOUND},
        {408, "", IG_ERRC_RETRYABLE},
        {409, "", IG_ERRC_RETRYABLE},
        {425, "", IG_ERRC_RETRYABLE},
        {500, "{\"detail\":\"boom\"}", IG_ERRC_RETRYABLE},
        {503, "", IG_ERRC_RETRYABLE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ig_provider_result out;
        parse_reply(cases[i].status, cases[i].body, NULL, &out);
        cr_assert_eq(out.outcome, IG_OUTCOME_ERROR);
        cr_assert_eq(out.error_class, cases[i].want, "%ld %s -> %s", cases[i].status, cases[i].body,
                     ig_error_class_name(out.error_class));
    }
    struct ig_provider_result out;
    parse_reply(404, "{\"error\":\"no such model\"}", NULL, &out);
    cr_assert_str_eq(out.message, "no such model", "sd.cpp's string errors are read");
    parse_reply(500, "{\"detail\":\"boom\"}", NULL, &out);
    cr_assert_str_eq(out.message, "boom");
}

Test(openai, transport_failures)
{
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    res.transport_error = IG_EIO;
    res.timed_out = 1;
    struct ig_provider_result out;
    ig_classify_failure(&res, &out);
    cr_assert_eq(out.error_class, IG_ERRC_RETRYABLE);
    cr_assert(strstr(out.message, "in time"));
    res.timed_out = 0;
    res.blocked = 1;
    ig_classify_failure(&res, &out);
    cr_assert_neq(out.error_class, IG_ERRC_RETRYABLE, "a refused address is not retried");
}

Test(openai, retry_after_forms)
{
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    ig_buf_init(&res.headers, 4096);
    cr_assert_eq(ig_retry_after_ms(&res, 0), -1);
    ig_buf_puts(&res.headers, "HTTP/1.1 429 x\r\nRetry-After: 7\r\n\r\n");
    cr_assert_eq(ig_retry_after_ms(&res, 0), 7000);
    ig_buf_reset(&res.headers);
    ig_buf_puts(&res.headers, "HTTP/1.1 429 x\r\nretry-after-ms: 250\r\nRetry-After: 7\r\n\r\n");
    cr_assert_eq(ig_retry_after_ms(&res, 0), 250);
    ig_buf_reset(&res.headers);
    ig_buf_puts(&res.headers, "HTTP/1.1 503 x\r\nRetry-After: Thu, 01 Jan 1970 00:00:30 GMT\r\n");
    cr_assert_eq(ig_retry_after_ms(&res, 10), 20000);
    ig_buf_reset(&res.headers);
    ig_buf_puts(&res.headers, "HTTP/1.1 503 x\r\nRetry-After: soon\r\n");
    cr_assert_eq(ig_retry_after_ms(&res, 10), -1);
    ig_buf_release(&res.headers);
}

Test(openai, backoff_full_jitter_and_caps)
{
    for (uint64_t r = 0; r < 1000; r += 37) {
        cr_assert_leq(ig_backoff_ms(1, 100, 5000, -1, r), 100);
        cr_assert_leq(ig_backoff_ms(3, 100, 5000, -1, r), 400);
        cr_assert_leq(ig_backoff_ms(10, 100, 5000, -1, r), 5000);
    }
    cr_assert_eq(ig_backoff_ms(1, 100, 5000, -1, 1000), 1000 % 101);
    cr_assert_eq(ig_backoff_ms(2, 100, 5000, 1234, 5), 1234, "Retry-After wins");
    cr_assert_eq(ig_backoff_ms(2, 100, 5000, 99999, 5), 5000, "but is capped");
}

Test(openai, routes_config_issue_example_form)
{
    unsetenv("BFL_BASE_URL");
    char path[] = "/tmp/igroutesXXXXXX";
    int fd = mkstemp(path);
    const char *yaml = "models:\n"
                       "  - name: resilient-flux\n"
                       "    deployments:\n"
                       "      - { provider: fal, model: fal-ai/flux/schnell }\n"
                       "      - { provider: bfl, model: flux-pro-1.1 }\n";
    cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char err[256] = "";
    cr_assert_eq(ig_routes_load(models, path, err, sizeof err), 0, "%s", err);
    unlink(path);
    const struct ig_model *m = ig_models_find(models, "resilient-flux");
    cr_assert_not_null(m);
    cr_assert_eq(m->ndeployments, 2);
    cr_assert_str_eq(m->deployments[0].provider, "fal");
    cr_assert_str_eq(m->deployments[1].provider, "bfl");
    cr_assert_str_eq(m->deployments[1].api_base, "https://api.bfl.ai/v1");
}

Test(openai, bfl_protocol)
{
    const struct ig_deployment bfl = {.provider = "bfl",
                                      .model = "flux-dev",
                                      .api_base = "http://bfl.example/v1",
                                      .api_key = "bfl_k",
                                      .weight = 1,
                                      .timeout_ms = 1000};
    const char *body = "{\"prompt\":\"a fox\",\"model\":\"local\",\"size\":\"1024x768\","
                       "\"seed\":9,\"steps\":28,\"guidance\":3.5,\"output_format\":\"jpeg\"}";
    struct ig_gen_request r;
    parse_req(body, &r);
    struct ig_upstream_request up;
    cr_assert_eq(ig_provider_bfl.prepare(&r, &bfl, &up), 0);
    cr_assert_str_eq(up.url, "http://bfl.example/v1/flux-dev");
    cr_assert(has_header(&up.headers, "x-key: bfl_k"));
    json_t *b = json_loadb(up.body, up.body_len, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(b, "width")), 1024);
    cr_assert_eq(json_integer_value(json_object_get(b, "height")), 768);
    cr_assert_eq(json_integer_value(json_object_get(b, "seed")), 9);
    cr_assert_eq(json_integer_value(json_object_get(b, "steps")), 28);
    cr_assert_str_eq(json_string_value(json_object_get(b, "output_format")), "jpeg");
    json_decref(b);
    ig_upstream_request_release(&up);

    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    ig_buf_init(&res.body, 1 << 16);
    ig_buf_init(&res.headers, 1 << 10);
    struct ig_provider_result out;
    res.status = 200;
    ig_buf_puts(&res.body,
                "{\"id\":\"j1\",\"polling_url\":\"https://eu.bfl.example/v1/get_result?id=j1\"}");
    ig_provider_bfl.parse(&bfl, &res, 0, &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_PENDING);
    cr_assert_str_eq(out.poll.url, "https://eu.bfl.example/v1/get_result?id=j1");
    cr_assert_str_eq(out.poll.method, "GET");
    cr_assert(has_header(&out.poll.headers, "x-key: bfl_k"));
    ig_provider_result_release(&out);

    struct {
        const char *body;
        enum ig_outcome outcome;
        enum ig_error_class cls;
    } polls[] = {
        {"{\"id\":\"j1\",\"status\":\"Pending\"}", IG_OUTCOME_PENDING, 0},
        {"{\"status\":\"Ready\",\"result\":{\"sample\":\"https://x/y.jpg\",\"seed\":9}}",
         IG_OUTCOME_IMAGES, 0},
        {"{\"status\":\"Content Moderated\"}", IG_OUTCOME_ERROR, IG_ERRC_CONTENT_POLICY},
        {"{\"status\":\"Request Moderated\"}", IG_OUTCOME_ERROR, IG_ERRC_CONTENT_POLICY},
        {"{\"status\":\"Error\"}", IG_OUTCOME_ERROR, IG_ERRC_RETRYABLE},
        {"{\"status\":\"Ready\"}", IG_OUTCOME_ERROR, IG_ERRC_RETRYABLE},
        {"{}", IG_OUTCOME_ERROR, IG_ERRC_RETRYABLE},
    };
    for (size_t i = 0; i < sizeof polls / sizeof polls[0]; i++) {
        ig_buf_reset(&res.body);
        ig_buf_puts(&res.body, polls[i].body);
        ig_provider_bfl.parse(&bfl, &res, 1, &out);
        cr_assert_eq(out.outcome, polls[i].outcome, "%s", polls[i].body);
        if (out.outcome == IG_OUTCOME_ERROR)
            cr_assert_eq(out.error_class, polls[i].cls, "%s", polls[i].body);
        if (out.outcome == IG_OUTCOME_IMAGES) {
            cr_assert_str_eq(out.images[0].url, "https://x/y.jpg");
            cr_assert_eq(out.images[0].seed, 9);
        }
        ig_provider_result_release(&out);
    }
    res.status = 402;
    ig_buf_reset(&res.body);
    ig_buf_puts(&res.body, "{\"detail\":\"Insufficient credits\"}");
    ig_provider_bfl.parse(&bfl, &res, 0, &out);
    cr_assert_eq(out.error_class, IG_ERRC_QUOTA);
    cr_assert_str_eq(out.message, "Insufficient credits");
    res.status = 422;
    ig_buf_reset(&res.body);
    ig_buf_puts(&res.body, "{\"detail\":[{\"loc\":[\"body\",\"width\"],\"msg\":\"too wide\"}]}");
    ig_provider_bfl.parse(&bfl, &res, 0, &out);
    cr_assert_eq(out.error_class, IG_ERRC_CLIENT);
    cr_assert_str_eq(out.message, "too wide");
    ig_buf_release(&res.body);
    ig_buf_release(&res.headers);
    ig_gen_request_release(&r);
}

Test(openai, stability_aspect_ratio)
{
    cr_assert_str_eq(ig_stability_aspect_ratio(1024, 1024), "1:1");
    cr_assert_str_eq(ig_stability_aspect_ratio(1344, 768), "16:9");
    cr_assert_str_eq(ig_stability_aspect_ratio(768, 1344), "9:16");
    cr_assert_str_eq(ig_stability_aspect_ratio(1536, 640), "21:9");
    cr_assert_str_eq(ig_stability_aspect_ratio(832, 1216), "2:3");
    cr_assert_str_eq(ig_stability_aspect_ratio(1000, 800), "5:4");
    cr_assert_str_eq(ig_stability_aspect_ratio(64, 4096), "9:21");
}

Test(openai, every_provider_is_complete)
{
    const char *names[] = {"openai",    "bfl",      "stability", "a1111",
                           "replicate", "leonardo", "fal",       "openrouter"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_not_null(ig_provider_find(names[i]), "%s", names[i]);
    size_t n = 0;
    for (const struct ig_provider *p; (p = ig_provider_at(n)); n++) {
        cr_assert(p->generate || (p->prepare && p->parse), "%s: an adapter", p->name);
        cr_assert(p->models && p->nmodels > 0 && p->fallback, "%s: its models", p->name);
        if (!p->generate)
            cr_assert(p->key_env && p->base_env && p->default_base, "%s: its environment", p->name);
        for (size_t k = 0; k < p->nmodels; k++) {
            const struct ig_model *m = &p->models[k];
            cr_assert(m->id && m->max_n > 0 && m->qualities && m->formats && m->max_side > 0,
                      "%s: model %zu", p->name, k);
            cr_assert_str_eq(m->provider, p->name);
        }
        /* Its own models are its templates. */
        cr_assert_eq(ig_provider_template(p->name, p->models[0].id), &p->models[0]);
    }
    cr_assert_eq(n, 9, "local and eight network providers");
    cr_assert_not_null(ig_provider_find("local")->generate);
    cr_assert_null(ig_provider_find("midjourney"));
}

static void openrouter_reply(long status, const char *body, struct ig_provider_result *out)
{
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    res.status = status;
    ig_buf_init(&res.body, 1 << 16);
    ig_buf_init(&res.headers, 1 << 10);
    ig_buf_puts(&res.body, body);
    ig_provider_openrouter.parse(&dep, &res, 0, out);
    ig_buf_release(&res.body);
    ig_buf_release(&res.headers);
}

Test(openai, openrouter_protocol)
{
    const struct ig_deployment orr = {.provider = "openrouter",
                                      .model = "google/gemini-2.5-flash-image",
                                      .api_base = "http://or.example/api/v1/",
                                      .api_key = "sk-or-v1-k",
                                      .weight = 1,
                                      .timeout_ms = 1000};
    struct ig_gen_request r;
    parse_req("{\"prompt\":\"a fox\",\"model\":\"local\",\"size\":\"768x1024\"}", &r);
    struct ig_upstream_request up;
    cr_assert_eq(ig_provider_openrouter.prepare(&r, &orr, &up), 0);
    cr_assert_str_eq(up.url, "http://or.example/api/v1/chat/completions");
    cr_assert_str_eq(up.method, "POST");
    cr_assert(has_header(&up.headers, "Authorization: Bearer sk-or-v1-k"));
    json_t *b = json_loadb(up.body, up.body_len, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(b, "model")),
                     "google/gemini-2.5-flash-image");
    json_t *msg = json_array_get(json_object_get(b, "messages"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(msg, "role")), "user");
    cr_assert_str_eq(json_string_value(json_object_get(msg, "content")), "a fox");
    json_t *mod = json_object_get(b, "modalities");
    cr_assert_str_eq(json_string_value(json_array_get(mod, 0)), "image");
    cr_assert_str_eq(json_string_value(json_array_get(mod, 1)), "text");
    cr_assert(json_is_false(json_object_get(b, "stream")));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(b, "image_config"), "aspect_ratio")),
        "3:4");
    json_decref(b);
    ig_upstream_request_release(&up);
    ig_gen_request_release(&r);

    struct ig_provider_result out;
    memset(&out, 0, sizeof out);
    openrouter_reply(200,
                     "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"ok\","
                     "\"images\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
                     "\"data:image/png;base64,iVBORw0KGgo=\"}}]}}]}",
                     &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_IMAGES, "%s", out.message);
    cr_assert_eq(out.nimages, 1);
    cr_assert_str_eq(out.images[0].b64, "iVBORw0KGgo=");
    ig_provider_result_release(&out);

    /* Text only is a failure with the model's words, not an empty success. */
    openrouter_reply(200,
                     "{\"choices\":[{\"message\":{\"role\":\"assistant\","
                     "\"content\":\"I can only describe it.\"}}]}",
                     &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_ERROR);
    cr_assert_eq(out.nimages, 0);
    cr_assert_eq(out.error_class, IG_ERRC_REFUSED);
    cr_assert(strstr(out.message, "I can only describe it."), "%s", out.message);
    ig_provider_result_release(&out);

    openrouter_reply(200, "{\"choices\":[]}", &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_ERROR);
    cr_assert_eq(out.error_class, IG_ERRC_RETRYABLE);
    ig_provider_result_release(&out);

    openrouter_reply(200,
                     "{\"choices\":[{\"message\":{\"images\":[{\"image_url\":"
                     "{\"url\":\"data:image/png;base64,@@@\"}}]}}]}",
                     &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_ERROR, "a broken data URI");
    ig_provider_result_release(&out);

    openrouter_reply(402, "{\"error\":{\"code\":402,\"message\":\"Insufficient credits\"}}", &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_ERROR);
    cr_assert_eq(out.error_class, IG_ERRC_QUOTA);
    cr_assert(strstr(out.message, "Insufficient credits"), "%s", out.message);
    ig_provider_result_release(&out);

    openrouter_reply(429, "{\"error\":{\"code\":429,\"message\":\"slow down\"}}", &out);
    cr_assert_eq(out.error_class, IG_ERRC_RETRYABLE);
    ig_provider_result_release(&out);
}

/* A provider image from base64 in a JSON string, as an adapter makes it
 * (the string is the answer's: only the image's reference keeps it). */
static void b64_image(struct ig_provider_image *im, const char *text)
{
    memset(im, 0, sizeof *im);
    json_t *s = json_string(text);
    cr_assert_eq(ig_provider_b64_image(im, s), 0, "%s", text);
    json_decref(s);
    cr_assert_str_eq(im->b64, text);
    cr_assert_eq(im->b64_len, strlen(text));
}

static void image_free(struct ig_provider_image *im)
{
    json_decref(im->b64_json);
    free(im->b64_copy);
    free(im->bytes);
}

Test(provider_image, b64_kept_then_sniffed_and_decoded)
{
    struct ig_provider_image im;
    memset(&im, 0, sizeof im);
    const char *bad[] = {"", "iVBORw0KG" /* not a multiple of 4 */};
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_string(bad[i]);
        cr_assert_eq(ig_provider_b64_image(&im, s), IG_EINVAL, "%s", bad[i]);
        cr_assert_eq(ig_provider_b64_text(&im, bad[i]), IG_EINVAL, "%s", bad[i]);
        json_decref(s);
    }
    json_t *not_text[] = {json_null(), json_integer(1234), json_object(), NULL};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(ig_provider_b64_image(&im, not_text[i]), IG_EINVAL, "%zu", i);
        json_decref(not_text[i]);
    }
    cr_assert_null(im.b64);
    cr_assert_null(im.b64_json);

    /* Text that is part of a string (a data URI's) is copied. */
    char uri[] = "data:image/png;base64,iVBORw0KGgo=";
    cr_assert_eq(ig_provider_b64_text(&im, uri + 22), 0);
    memset(uri, 'x', sizeof uri - 1);
    cr_assert_str_eq(im.b64, "iVBORw0KGgo=");
    cr_assert_eq(im.b64_len, 12);
    image_free(&im);

    /* A PNG signature and more: sniffed from the first 16 characters. */
    const uint8_t png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    char text[64];
    ig_base64_encode(png, sizeof png - 1, text);
    b64_image(&im, text);
    cr_assert_eq(ig_provider_image_sniff(&im), IG_FMT_PNG);
    cr_assert_null(im.bytes, "sniffing decodes nothing for keeps");
    cr_assert_eq(ig_provider_image_decode(&im), 0);
    cr_assert_eq(im.len, sizeof png - 1);
    cr_assert_eq(memcmp(im.bytes, png, im.len), 0);
    cr_assert_eq(ig_provider_image_decode(&im), 0, "decoding twice keeps the bytes");
    cr_assert(ig_provider_image_b64_canonical(&im));
    image_free(&im);

    /* An error page is no image; broken base64 sniffs as nothing. */
    b64_image(&im, "PGh0bWw+bm90IGFuIGltYWdlPC9odG1sPg==");
    cr_assert_eq(ig_provider_image_sniff(&im), IG_FMT_UNKNOWN);
    image_free(&im);
    b64_image(&im, "!!!!iVBORw0KGgo=");
    cr_assert_eq(ig_provider_image_sniff(&im), IG_FMT_UNKNOWN);
    cr_assert_eq(ig_provider_image_decode(&im), IG_EINVAL);
    cr_assert_null(im.bytes);
    image_free(&im);
    /* Past the first 16 characters the text is not looked at until decoding. */
    b64_image(&im, "iVBORw0KGgoAAAANSUhEUg!!");
    cr_assert_eq(ig_provider_image_sniff(&im), IG_FMT_PNG);
    cr_assert_eq(ig_provider_image_decode(&im), IG_EINVAL);
    image_free(&im);
    /* Bytes from a download are sniffed as they are. */
    memset(&im, 0, sizeof im);
    im.bytes = (uint8_t *)"\xff\xd8\xff\xe0";
    im.len = 4;
    cr_assert_eq(ig_provider_image_sniff(&im), IG_FMT_JPEG);
    cr_assert_not(ig_provider_image_b64_canonical(&im), "no text to hand out");
}

Test(provider_image, only_canonical_base64_is_reused)
{
    struct {
        const char *text;
        int canonical;
    } cases[] = {
        {"QUJD", 1},     /* "ABC" */
        {"QUI=", 1},     /* "AB" */
        {"QQ==", 1},     /* "A" */
        {"QUJDRA==", 1}, /* "ABCD" */
        {"QUJ=", 0},     /* "AB" with stray bits in the last character */
        {"QR==", 0},     /* "A" with stray bits */
        {"QQ==QUJD", 0}, /* padding in the middle decodes, as zero bits */
        {"QUJDRA=A", 0}, /* '=' where a character belongs */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ig_provider_image im;
        b64_image(&im, cases[i].text);
        int rc = ig_provider_image_decode(&im);
        if (rc == 0)
            cr_assert_eq(ig_provider_image_b64_canonical(&im), cases[i].canonical, "%s",
                         cases[i].text);
        else
            cr_assert_not(cases[i].canonical, "%s does not decode", cases[i].text);
        if (rc == 0 && cases[i].canonical) {
            char again[16];
            ig_base64_encode(im.bytes, im.len, again);
            cr_assert_str_eq(again, cases[i].text, "canonical means re-encoding gives it back");
        }
        image_free(&im);
    }
}

static void reply(const struct ig_provider *p, const struct ig_deployment *d, long status,
                  const char *body, int poll, struct ig_provider_result *out)
{
    struct ig_upstream_result res;
    memset(&res, 0, sizeof res);
    res.status = status;
    ig_buf_init(&res.body, 1 << 16);
    ig_buf_init(&res.headers, 1 << 10);
    ig_buf_puts(&res.body, body);
    p->parse(d, &res, poll, out);
    ig_buf_release(&res.body);
    ig_buf_release(&res.headers);
}

Test(provider_progress, queue_positions_and_percents_and_resumable_polls)
{
    const struct ig_deployment fal = {.provider = "fal",
                                      .model = "fal-ai/flux/dev",
                                      .api_base = "http://q.example",
                                      .api_key = "k"};
    const struct ig_deployment rep = {.provider = "replicate",
                                      .model = "a/b",
                                      .api_base = "http://r.example/v1",
                                      .api_key = "r8"};
    struct ig_provider_result out;
    reply(&ig_provider_fal, &fal, 202,
          "{\"status\":\"IN_QUEUE\",\"queue_position\":3,\"status_url\":\"http://q.example/s\"}", 2,
          &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_PENDING);
    cr_assert_eq(out.queue_position, 3);
    cr_assert_eq(out.percent, -1);
    ig_provider_result_release(&out);
    reply(&ig_provider_fal, &fal, 200, "{\"status\":\"IN_PROGRESS\"}", 3, &out);
    cr_assert_eq(out.queue_position, 0, "running");
    ig_provider_result_release(&out);
    reply(&ig_provider_replicate, &rep, 200,
          "{\"id\":\"p1\",\"status\":\"processing\",\"logs\":\"10%|#  | 2/20\\n45%|#### | "
          "9/20\",\"urls\":{\"get\":\"http://r.example/v1/predictions/p1\"}}",
          1, &out);
    cr_assert_eq(out.outcome, IG_OUTCOME_PENDING);
    cr_assert_eq(out.queue_position, 0);
    cr_assert_eq(out.percent, 45, "the last percent of the logs");
    ig_provider_result_release(&out);
    reply(&ig_provider_replicate, &rep, 200,
          "{\"id\":\"p1\",\"status\":\"starting\",\"logs\":\"\",\"urls\":{\"get\":"
          "\"http://r.example/v1/predictions/p1\"}}",
          0, &out);
    cr_assert_eq(out.queue_position, -1);
    cr_assert_eq(out.percent, -1);
    ig_provider_result_release(&out);
    /* A kept poll URL becomes a request with the deployment's credentials. */
    struct ig_upstream_request up;
    cr_assert_eq(
        ig_provider_replicate.poll_request(&rep, "http://r.example/v1/predictions/p1", &up), 0);
    cr_assert_str_eq(up.method, "GET");
    cr_assert(strstr(up.headers.data, "Authorization: Bearer r8"));
    ig_upstream_request_release(&up);
    cr_assert_neq(ig_provider_fal.poll_request(&fal, "ftp://q.example/x", &up), 0, "http(s) only");
    const char *followers[] = {"fal", "replicate", "bfl", "leonardo"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_not_null(ig_provider_find(followers[i])->poll_request, "%s", followers[i]);
}
