/* test_webhook.c — Standard Webhooks signatures against the
 * specification's own example, derived secrets (stable, per account and
 * version, well formed), bad secrets refused, and job events' JSON. */
#include "core/webhook.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

Test(webhook, signs_the_specifications_example)
{
    /* standardwebhooks.com's example secret, message id, timestamp and
     * payload, and the signature its reference libraries expect. */
    char sig[IG_WEBHOOK_SIGNATURE_MAX];
    const char *body = "{\"test\": 2432232314}";
    cr_assert_eq(ig_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                 "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                 sig),
                 0);
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Any change of id, time or body changes it. */
    char other[IG_WEBHOOK_SIGNATURE_MAX];
    ig_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    1614265331, body, strlen(body), other);
    cr_assert_str_neq(sig, other);
}

Test(webhook, refuses_malformed_secrets)
{
    char sig[IG_WEBHOOK_SIGNATURE_MAX];
    const char *bad[] = {"",          "whsec_",     "sk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                         "whsec_abc", "whsec_****", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(ig_webhook_sign(bad[i], "msg_1", 1, "{}", 2, sig), IG_EINVAL, "%s", bad[i]);
}

Test(webhook, derived_secrets)
{
    const uint8_t instance[32] = {1, 2, 3};
    char a1[IG_WEBHOOK_SECRET_MAX], a1_again[IG_WEBHOOK_SECRET_MAX], a2[IG_WEBHOOK_SECRET_MAX],
        b1[IG_WEBHOOK_SECRET_MAX];
    ig_webhook_secret(instance, sizeof instance, "acct_a", 1, a1);
    ig_webhook_secret(instance, sizeof instance, "acct_a", 1, a1_again);
    ig_webhook_secret(instance, sizeof instance, "acct_a", 2, a2);
    ig_webhook_secret(instance, sizeof instance, "acct_b", 1, b1);
    cr_assert_str_eq(a1, a1_again, "stable");
    cr_assert_str_neq(a1, a2, "a rotation changes it");
    cr_assert_str_neq(a1, b1, "per account");
    cr_assert_eq(strncmp(a1, "whsec_", 6), 0);
    cr_assert_eq(strlen(a1), 6 + 32, "24 bytes in base64");
    char sig[IG_WEBHOOK_SIGNATURE_MAX];
    cr_assert_eq(ig_webhook_sign(a1, "msg_1", 1, "{}", 2, sig), 0, "a derived secret signs");
    const uint8_t other[32] = {9};
    char o1[IG_WEBHOOK_SECRET_MAX];
    ig_webhook_secret(other, sizeof other, "acct_a", 1, o1);
    cr_assert_str_neq(a1, o1, "another instance secret, another secret");
}

Test(webhook, job_events)
{
    char *e = ig_webhook_job_event("job_1", "succeeded", "gen_1",
                                   "{\"created\":5,\"data\":[{\"url\":\"http://x/1.png\"}]}", NULL,
                                   NULL, NULL, 1733472000123);
    json_error_t jerr;
    json_t *j = json_loads(e, 0, &jerr);
    cr_assert_not_null(j, "%s", e);
    cr_assert_str_eq(json_string_value(json_object_get(j, "type")), "image.generation.succeeded");
    cr_assert_str_eq(json_string_value(json_object_get(j, "timestamp")),
                     "2024-12-06T08:00:00.123Z");
    json_t *d = json_object_get(j, "data");
    cr_assert_str_eq(json_string_value(json_object_get(d, "id")), "job_1");
    cr_assert_str_eq(json_string_value(json_object_get(d, "generation_id")), "gen_1");
    cr_assert(json_is_null(json_object_get(d, "error")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "result"), "created")), 5);
    json_decref(j);
    free(e);
    e = ig_webhook_job_event("job_2", "failed", NULL, NULL, "provider_error", "it \"broke\"", NULL,
                             0);
    j = json_loads(e, 0, &jerr);
    cr_assert_not_null(j, "%s", e);
    d = json_object_get(j, "data");
    cr_assert_str_eq(json_string_value(json_object_get(j, "type")), "image.generation.failed");
    cr_assert(json_is_null(json_object_get(d, "result")));
    cr_assert(json_is_null(json_object_get(d, "generation_id")));
    json_t *err = json_object_get(d, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "message")), "it \"broke\"");
    cr_assert(json_is_null(json_object_get(err, "param")));
    json_decref(j);
    free(e);
    cr_assert_null(ig_webhook_job_event("job_3", "running", NULL, NULL, NULL, NULL, NULL, 0));
    cr_assert_str_eq(ig_webhook_job_event_type("canceled"), "image.generation.canceled");
}
