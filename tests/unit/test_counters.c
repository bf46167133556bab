/* Shared counters, in-process backend: limits, windows, keys apart, exact
 * under concurrency, and every call answered exactly once. */
#include "core/counters.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct answer {
    int calls, ok;
    int64_t value, reset_ms;
};

static void answer_cb(void *ud, int ok, int64_t value, int64_t reset_ms)
{
    struct answer *a = ud;
    a->calls++;
    a->ok = ok;
    a->value = value;
    a->reset_ms = reset_ms;
}

Test(counters, levels_stop_at_their_limit_and_refusals_change_nothing)
{
    struct ig_counters *c = ig_counters_local_new();
    cr_assert_not_null(c);
    struct answer a = {0};
    for (int i = 0; i < 3; i++) {
        ig_counters_add(c, "pending", 1, 3, 0, answer_cb, &a);
        cr_assert(a.ok);
    }
    cr_assert_eq(a.calls, 3, "answered once per call");
    cr_assert_eq(a.value, 3);
    ig_counters_add(c, "pending", 1, 3, 0, answer_cb, &a);
    cr_assert_not(a.ok, "past the limit");
    cr_assert_eq(a.value, 3);
    cr_assert_eq(ig_counters_local_value(c, "pending"), 3, "a refusal changes nothing");
    ig_counters_add(c, "pending", -1, -1, 0, NULL, NULL);
    ig_counters_add(c, "pending", 1, 3, 0, answer_cb, &a);
    cr_assert(a.ok, "room again after a release");
    ig_counters_add(c, "other", 5, -1, 0, answer_cb, &a);
    cr_assert_eq(a.value, 5, "keys are apart");
    cr_assert_eq(ig_counters_local_value(c, "pending"), 3);
    cr_assert_eq(ig_counters_local_value(c, "never"), 0);
    ig_counters_free(c);
}

Test(counters, a_rate_starts_again_when_its_window_passes)
{
    struct ig_counters *c = ig_counters_local_new();
    struct answer a = {0};
    ig_counters_add(c, "key_a/min", 1, 2, 100, answer_cb, &a);
    ig_counters_add(c, "key_a/min", 1, 2, 100, answer_cb, &a);
    cr_assert(a.ok);
    cr_assert(a.reset_ms > 0 && a.reset_ms <= 100, "the window's end is told: %lld",
              (long long)a.reset_ms);
    ig_counters_add(c, "key_a/min", 1, 2, 100, answer_cb, &a);
    cr_assert_not(a.ok, "two per window");
    usleep(150 * 1000);
    ig_counters_add(c, "key_a/min", 1, 2, 100, answer_cb, &a);
    cr_assert(a.ok, "a new window");
    cr_assert_eq(a.value, 1);
    ig_counters_free(c);
}

Test(counters, keys_too_long_or_past_the_table_are_refused)
{
    struct ig_counters *c = ig_counters_local_new();
    struct answer a = {0};
    char key[200];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    ig_counters_add(c, key, 1, -1, 0, answer_cb, &a);
    cr_assert_eq(a.calls, 1, "answered even when refused");
    cr_assert_not(a.ok);
    /* The log (a file of the test's) says the table is full, once. */
    FILE *log = tmpfile();
    cr_assert_not_null(log);
    ig_log_setup(IG_LOG_INFO, fileno(log));
    int refused = 0;
    for (int i = 0; i < 20000; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%d", i);
        ig_counters_add(c, k, 1, -1, 0, answer_cb, &a);
        refused += !a.ok;
    }
    ig_log_setup(IG_LOG_INFO, 2);
    cr_assert_gt(refused, 0, "fixed memory: some new keys are refused");
    cr_assert_leq(refused, 20000 - 8192, "most fit");
    char text[4096] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = '\0';
    fclose(log);
    const char *said = strstr(text, "all 16384 slots are in use");
    cr_assert_not_null(said, "%s", text);
    cr_assert_null(strstr(said + 1, "all 16384 slots are in use"),
                   "once a minute, not per refusal");
    cr_assert_not_null(strstr(text, "\"level\":\"warn\""), "%s", text);
    ig_counters_free(c);
}

Test(counters, spent_keys_give_their_place_to_new_ones)
{
    struct ig_counters *c = ig_counters_local_new();
    struct answer a = {0};
    char k[32];
    /* Fill the table with rates of a short window and levels back at 0. */
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "rate%d", i);
        ig_counters_add(c, k, 1, -1, i % 2 ? 50 : 0, answer_cb, &a);
        if (a.ok && i % 2 == 0)
            ig_counters_add(c, k, -1, -1, 0, NULL, NULL);
    }
    usleep(80 * 1000);
    int refused = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "fresh%d", i);
        ig_counters_add(c, k, 1, -1, 0, answer_cb, &a);
        refused += !a.ok;
    }
    cr_assert_eq(refused, 0, "every spent slot is taken over");
    ig_counters_add(c, "fresh42", 1, -1, 0, answer_cb, &a);
    cr_assert_eq(a.value, 2, "a taken-over slot counts its new key: %lld", (long long)a.value);
    ig_counters_free(c);
}

static struct ig_counters *shared;

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        ig_counters_add(shared, "pending", 1, -1, 0, NULL, NULL);
    return NULL;
}

Test(counters, exact_under_concurrency)
{
    shared = ig_counters_local_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(ig_counters_local_value(shared, "pending"), 40000);
    ig_counters_free(shared);
}
