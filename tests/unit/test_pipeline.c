/* test_pipeline.c — generations driven through the stage table with no
 * HTTP at all: the same ig_generation_* calls the endpoints make, on a
 * loop of the test's own, against the local renderer, the fake provider
 * (tests/fakes/fake_provider.py, spawned here on a free loopback port), a
 * provider that is down, and a cancel. */
#include "core/models.h"
#include "core/request.h"
#include "pipeline/generation.h"
#include "providers/provider.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static struct ig_config cfg;
static struct ig_store *store;
static struct ig_blobs blobs;
static struct ig_models *models;
static struct ig_breakers *breakers;
static struct ig_capacity *capacity;
static struct ig_metrics metrics;
static struct ig_pipeline pipeline;
static uint8_t secret[32] = {1, 2, 3};
static uv_loop_t loop;
static struct ig_pipeline_worker *worker;
static pid_t fake_pid;
static int fake_port;

/* Starts the fake provider and reads its port. */
static void start_fake(void)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fake_pid = fork();
    cr_assert_geq(fake_pid, 0);
    if (fake_pid == 0) {
        setpgid(0, 0); /* killed as a group, whatever python3 is */
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2);
        close(fds[0]);
        execlp("python3", "python3", SOURCE_ROOT "/tests/fakes/fake_provider.py", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "listening on %d", &fake_port), 1, "the fake did not start");
    fclose(f);
}

/* Posts a JSON script to the fake (/__script). */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void script_fake(const char *json)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/__script", fake_port);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    cr_assert_eq(status, 200);
    curl_easy_cleanup(c);
}

static void add_network_model(const char *id, int port)
{
    char base[96];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", port);
    struct ig_deployment dep = {.provider = "openai",
                                .model = "dall-e-2",
                                .api_base = base,
                                .api_key = "sk-test",
                                .weight = 1,
                                .timeout_ms = 5000};
    cr_assert_eq(
        ig_models_add_copy(models, ig_provider_template("openai", "dall-e-2"), id, NULL, &dep, 1),
        0);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/igpipeXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(ig_config_init(&cfg), 0);
    cfg.upstream_max_attempts = 1;
    cfg.upstream_base_delay_ms = 1;
    cfg.upstream_max_delay_ms = 2;
    char path[128];
    snprintf(path, sizeof path, "%s/db", dir);
    cr_assert_eq(ig_store_open_sqlite(&store, path), 0);
    snprintf(path, sizeof path, "%s/blobs", dir);
    cr_assert_eq(ig_blobs_init(&blobs, path), 0);
    cr_assert_eq(ig_models_new(&models), 0);
    cr_assert_eq(ig_providers_add_builtin(models), 0);
    cr_assert_eq(ig_breakers_new(&breakers, 5, 1000), 0);
    cr_assert_eq(ig_capacity_new(&capacity, 16), 0);
    static const char *const names[] = {"none"};
    ig_metrics_init(&metrics, names, 1);
    start_fake();
    add_network_model("fake/dall-e-2", fake_port);
    add_network_model("down/dall-e-2", 1); /* nothing listens on port 1 */
    pipeline = (struct ig_pipeline){.cfg = &cfg,
                                    .store = store,
                                    .blobs = &blobs.base,
                                    .secret = secret,
                                    .secret_len = sizeof secret,
                                    .models = models,
                                    .breakers = breakers,
                                    .capacity = capacity,
                                    .metrics = &metrics,
                                    .counters = ig_counters_local_new()};
    ig_pipeline_init(&pipeline);
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct ig_upstream_options uo = {.builtin_http = 1};
    worker = ig_pipeline_worker_new(&pipeline, &loop, &uo);
    cr_assert_not_null(worker);
}

static void teardown(void)
{
    ig_pipeline_worker_free(worker);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    kill(-fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    ig_counters_free(pipeline.counters);
    ig_capacity_free(capacity);
    ig_breakers_free(breakers);
    ig_models_free(models);
    ig_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 60);

/* What a waiter saw: the calls counted, the end copied. */
struct seen {
    struct ig_gen_waiter w;
    int done, partials;
    enum ig_gen_state state;
    struct ig_gen_error error;
    char id[48];
    char *body;
};

static void seen_partial(struct ig_gen_waiter *w, struct ig_generation *g,
                         const struct ig_gen_partial *p)
{
    (void)g;
    struct seen *s = (struct seen *)w;
    cr_assert_gt(p->data_len, 10);
    s->partials++;
}

static void seen_done(struct ig_gen_waiter *w, struct ig_generation *g)
{
    struct seen *s = (struct seen *)w;
    s->done++;
    s->state = g->state;
    s->error = g->error;
    snprintf(s->id, sizeof s->id, "%s", g->id);
    s->body = g->result.body;
    g->result.body = NULL; /* ours now */
}

/* A generation of body (JSON, as the endpoint would read it). */
static struct ig_generation *make(const char *body, struct seen *s)
{
    struct ig_gen_context ctx = {
        .key_id = "key_test", .request_id = "req_test", .base_url = "http://gateway.test"};
    struct ig_generation *g;
    struct ig_gen_error err;
    cr_assert_eq(ig_generation_new(worker, &ctx, &g), 0);
    cr_assert_eq(ig_gen_request_parse(body, strlen(body), models, &g->req, &err), 0, "%s",
                 err.message);
    memset(s, 0, sizeof *s);
    s->w.done = seen_done;
    s->w.partial = seen_partial;
    ig_generation_watch(g, &s->w);
    return g;
}

/* Until the first waiter is told: kept-alive upstream connections keep
 * the loop alive for their idle timeout after that. */
static void run(struct ig_generation *g)
{
    struct seen *s = (struct seen *)g->waiters;
    ig_generation_start(g);
    while (!s->done)
        uv_run(&loop, UV_RUN_ONCE);
}

/* The status the store recorded for generation id ("" when none). */
static void recorded_status(const char *id, char *out, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_prepare_v2(db, "SELECT status FROM generations WHERE id = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int recorded(const char *id)
{
    char got[32];
    recorded_status(id, got, sizeof got);
    return got[0] != '\0';
}

static void assert_recorded(const char *id, const char *status)
{
    char got[32];
    recorded_status(id, got, sizeof got);
    cr_assert_str_eq(got, status, "generation %s", id);
}

Test(pipeline, local_generation_without_http)
{
    struct seen s;
    run(make("{\"prompt\":\"a red kite\",\"size\":\"64x64\",\"n\":2,\"seed\":7}", &s));
    cr_assert_eq(s.done, 1);
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    cr_assert_not_null(s.body);
    cr_assert(strstr(s.body, "\"provider_used\":\"local\""), "%s", s.body);
    cr_assert(strstr(s.body, "\"seeds\":[7,8]"), "%s", s.body);
    cr_assert(strstr(s.body, "http://gateway.test/v1/files/"), "%s", s.body);
    assert_recorded(s.id, "succeeded");
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "renders"), 0);
    cr_assert_eq(atomic_load(&metrics.images_generated), 2);
    free(s.body);
}

Test(pipeline, local_stream_passes_partials)
{
    struct seen s;
    run(make("{\"prompt\":\"waves\",\"size\":\"64x64\",\"stream\":true,\"partial_images\":2}", &s));
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    cr_assert_eq(s.partials, 2);
    cr_assert(strstr(s.body, "\"type\":\"image_generation.completed\""), "%s", s.body);
    free(s.body);
}

Test(pipeline, network_provider_against_the_fake)
{
    struct seen s;
    run(make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"a kite\",\"size\":\"256x256\","
             "\"response_format\":\"b64_json\"}",
             &s));
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    cr_assert(strstr(s.body, "\"provider_used\":\"openai\""), "%s", s.body);
    cr_assert(strstr(s.body, "\"b64_json\":\"iVBOR"), "a PNG's base64");
    assert_recorded(s.id, "succeeded");
    free(s.body);
}

Test(pipeline, provider_failure_is_a_domain_error)
{
    struct seen s;
    script_fake("[{\"status\": 500}]");
    run(make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"a kite\"}", &s));
    cr_assert_eq(s.state, IG_GEN_FAILED);
    cr_assert_eq(s.error.kind, IG_GERR_UPSTREAM);
    cr_assert_str_eq(s.error.code, "provider_error");
    cr_assert_str_eq(s.error.provider, "openai");
    cr_assert_null(s.body);
    assert_recorded(s.id, "failed");

    run(make("{\"model\":\"down/dall-e-2\",\"prompt\":\"a kite\"}", &s));
    cr_assert_eq(s.error.kind, IG_GERR_UPSTREAM, "%s", s.error.message);
    cr_assert_eq(atomic_load(&metrics.generations_failed), 2);
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "provider"), 0);
}

static void cancel_cb(uv_timer_t *t)
{
    ig_generation_cancel(t->data);
}

Test(pipeline, cancel_stops_the_provider_call)
{
    struct seen s;
    script_fake("[{\"delay\": 5}]");
    struct ig_generation *g = make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"slow\"}", &s);
    static uv_timer_t t; /* closed by the loop in teardown */
    uv_timer_init(&loop, &t);
    t.data = g;
    uv_timer_start(&t, cancel_cb, 100, 0);
    ig_generation_start(g);
    uint64_t before = uv_now(&loop);
    while (!s.done)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_lt(uv_now(&loop) - before, 3000, "the cancel did not stop the 5 s call");
    cr_assert_eq(s.state, IG_GEN_FAILED);
    cr_assert_eq(s.error.kind, IG_GERR_CANCELED);
    assert_recorded(s.id, "failed");
    uv_close((uv_handle_t *)&t, NULL);
}

/* The loop's time for a local generation of body, run to its end. */
static uint64_t render_ms(const char *body)
{
    struct seen s;
    uint64_t before = uv_now(&loop);
    run(make(body, &s));
    uv_update_time(&loop);
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    free(s.body);
    return uv_now(&loop) - before;
}

Test(pipeline, cancel_stops_a_local_render_between_images)
{
    static const char body[] = "{\"prompt\":\"many\",\"size\":\"1024x1024\",\"n\":10}";
    uint64_t whole = render_ms(body);
    struct seen s;
    struct ig_generation *g = make(body, &s);
    static uv_timer_t t; /* closed by the loop in teardown */
    uv_timer_init(&loop, &t);
    t.data = g;
    uv_timer_start(&t, cancel_cb, whole / 10, 0); /* about one image in */
    uint64_t before = uv_now(&loop);
    ig_generation_start(g);
    while (!s.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
    uint64_t cancelled = uv_now(&loop) - before;
    cr_assert_eq(s.state, IG_GEN_FAILED);
    cr_assert_eq(s.error.kind, IG_GERR_CANCELED, "%s", s.error.message);
    cr_assert_str_eq(s.error.code, "client_closed_request");
    assert_recorded(s.id, "failed");
    /* Ten images took `whole`; stopped after about the second, the render
     * is back in well under half of that. */
    cr_assert_lt(cancelled * 2, whole, "cancelled after %llu ms; the whole render takes %llu ms",
                 (unsigned long long)cancelled, (unsigned long long)whole);
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "renders"), 0, "its slot is back");
    uv_close((uv_handle_t *)&t, NULL);
}

Test(pipeline, admission_bound_fails_fast_and_records_nothing)
{
    struct seen s;
    pipeline.max_renders = 1;
    ig_counters_add(pipeline.counters, "renders", 1, -1, 0, NULL, NULL); /* one in progress */
    run(make("{\"prompt\":\"busy\",\"size\":\"64x64\"}", &s));
    cr_assert_eq(s.error.kind, IG_GERR_UNAVAILABLE);
    cr_assert_str_eq(s.error.code, "overloaded");
    cr_assert_eq(s.error.retry_after_s, 1);
    cr_assert(strstr(s.error.message, "local renders"), "%s", s.error.message);
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "renders"), 1,
                 "a refused generation holds no slot");
    assert_recorded(s.id, "");
    ig_counters_add(pipeline.counters, "renders", -1, -1, 0, NULL, NULL);
}

Test(pipeline, local_renders_and_provider_waits_are_bounded_apart)
{
    /* The default bounds: renders from the cores, provider waits from
     * memory, at least 10,000. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(pipeline.max_renders, 128 * (cores > 0 ? cores : 1));
    cr_assert_geq(pipeline.max_provider, 10000);

    /* Every local slot taken: a network generation still goes... */
    pipeline.max_renders = 1;
    pipeline.max_provider = 1;
    ig_counters_add(pipeline.counters, "renders", 1, -1, 0, NULL, NULL);
    struct seen s;
    run(make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"goes\"}", &s));
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    free(s.body);
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "provider"), 0, "its slot is back");
    ig_counters_add(pipeline.counters, "renders", -1, -1, 0, NULL, NULL);

    /* ...and every provider slot taken: a local render still goes, a
     * network generation does not. */
    ig_counters_add(pipeline.counters, "provider", 1, -1, 0, NULL, NULL);
    run(make("{\"prompt\":\"goes\",\"size\":\"64x64\"}", &s));
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    free(s.body);
    run(make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"waits\"}", &s));
    cr_assert_eq(s.error.kind, IG_GERR_UNAVAILABLE);
    cr_assert_str_eq(s.error.code, "overloaded");
    cr_assert(strstr(s.error.message, "waiting on providers"), "%s", s.error.message);
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "provider"), 1);
    ig_counters_add(pipeline.counters, "provider", -1, -1, 0, NULL, NULL);
}

/* splitmix64: a seeded source, so the draw below is the same every run. */
static uint64_t seeded(void *ud)
{
    uint64_t *s = ud, z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Test(pipeline, weighted_choice_follows_the_weights_and_priorities)
{
    static const struct ig_deployment deps[] = {
        {.provider = "openai", .model = "a", .weight = 3},
        {.provider = "openai", .model = "b", .weight = 1},
        {.provider = "openai", .model = "backup", .weight = 100, .priority = 1},
    };
    struct ig_model m = {.id = "w", .deployments = deps, .ndeployments = 3};
    uint64_t state = 42;
    int first_a = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; i++) {
        const struct ig_deployment *order[4];
        cr_assert_eq(ig_deployments_order(&m, seeded, &state, order, 4), 3);
        cr_assert(order[0] != order[1]);
        cr_assert_eq(order[2], &deps[2], "a lower priority always comes last, whatever its weight");
        first_a += order[0] == &deps[0];
    }
    /* 3:1 → 15,000 of 20,000 expected; a binomial standard deviation is
     * about 61, so ±400 is over six of them. */
    cr_assert(first_a > 14600 && first_a < 15400, "a first %d times of %d", first_a, draws);
    const struct ig_deployment *two[2];
    cr_assert_eq(ig_deployments_order(&m, seeded, &state, two, 2), 2, "bounded by max");
}

Test(pipeline, several_waiters_each_told_once)
{
    struct seen a, b;
    struct ig_generation *g = make("{\"prompt\":\"two\",\"size\":\"64x64\"}", &a);
    memset(&b, 0, sizeof b);
    b.w.done = seen_done;
    ig_generation_watch(g, &b.w);
    run(g);
    cr_assert_eq(a.done, 1);
    cr_assert_eq(b.done, 1);
    cr_assert_str_eq(a.id, b.id);
    cr_assert_not_null(a.body, "the first waiter took the body");
    cr_assert_null(b.body);
    free(a.body);
}

Test(pipeline, worker_freed_while_a_generation_runs_waits_for_it)
{
    struct seen s;
    script_fake("[{\"delay\": 0.3}]");
    struct ig_generation *g = make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"late\"}", &s);
    ig_generation_start(g);
    ig_pipeline_worker_free(worker); /* the worker stops; its generation goes on */
    worker = NULL;
    while (!s.done)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(s.state, IG_GEN_SUCCEEDED, "%s", s.error.message);
    assert_recorded(s.id, "succeeded");
    free(s.body);
    uv_run(&loop, UV_RUN_DEFAULT); /* frees the worker (ASan checks the rest) */
}

Test(pipeline, a_waiter_that_leaves_is_not_told_and_the_last_one_leaving_cancels)
{
    /* Two waiters; one leaves: the generation goes on for the other. */
    struct seen a, b;
    script_fake("[{\"delay\": 0.3}, {\"delay\": 5}]");
    struct ig_generation *g = make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"two\"}", &a);
    memset(&b, 0, sizeof b);
    b.w.done = seen_done;
    ig_generation_watch(g, &b.w);
    ig_generation_start(g);
    ig_generation_unwatch(g, &a.w);
    while (!b.done)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(a.done, 0, "the waiter that left is not told");
    cr_assert_eq(b.state, IG_GEN_SUCCEEDED, "%s", b.error.message);
    assert_recorded(b.id, "succeeded");
    free(b.body);

    /* The only waiter leaves: the generation is cancelled, and recorded. */
    struct seen c;
    g = make("{\"model\":\"fake/dall-e-2\",\"prompt\":\"alone\"}", &c);
    char id[48];
    ig_generation_start(g);
    snprintf(id, sizeof id, "%s", g->id);
    ig_generation_unwatch(g, &c.w);
    /* Nobody is told; the end shows as the record and the freed slot. */
    for (int i = 0;
         i < 400 && !(recorded(id) && ig_counters_local_value(pipeline.counters, "provider") == 0);
         i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    cr_assert_eq(c.done, 0);
    assert_recorded(id, "failed");
    cr_assert_eq(ig_counters_local_value(pipeline.counters, "provider"), 0);
}
