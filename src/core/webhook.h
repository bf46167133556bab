/* webhook.h — what a webhook delivery says and how it is signed, after
 * Standard Webhooks (standardwebhooks.com):
 *
 *   webhook-id: msg_…            the same on every attempt of a delivery
 *   webhook-timestamp: 1733472000 unix seconds of this attempt
 *   webhook-signature: v1,BASE64  HMAC-SHA256 of "id.timestamp.body" under
 *                                  the secret's bytes (the base64 after
 *                                  "whsec_"); several, space-separated,
 *                                  while a rotated secret is still valid
 *
 * An account's secret is derived, never stored: HMAC-SHA256(instance
 * secret, "imagegate webhook v1" NUL account NUL version), its first 24
 * bytes, as "whsec_" + base64. Rotating moves to the next version. */
#ifndef IG_WEBHOOK_H
#define IG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define IG_WEBHOOK_SECRET_MAX    64 /* "whsec_" + base64 of 24 bytes, and a NUL */
#define IG_WEBHOOK_SIGNATURE_MAX 48 /* "v1," + base64 of 32 bytes, and a NUL */

#define IG_WEBHOOK_URL_MAX 2048

/* 1 when u may be a webhook's target as written: http or https, printable
 * ASCII, at most IG_WEBHOOK_URL_MAX characters (where it points is the
 * address policy's, when a delivery connects). */
int ig_webhook_url_valid(const char *u);
/* account_id's signing secret of version into out. */
void ig_webhook_secret(const uint8_t *instance_secret, size_t secret_len, const char *account_id,
                       int64_t version, char out[IG_WEBHOOK_SECRET_MAX]);
/* The signature of a delivery's attempt under whsec (a secret as
 * ig_webhook_secret writes it) into out. 0, or IG_EINVAL for a secret
 * that is not "whsec_" + base64, IG_ENOMEM. */
int ig_webhook_sign(const char *whsec, const char *msg_id, int64_t timestamp, const char *body,
                    size_t body_len, char out[IG_WEBHOOK_SIGNATURE_MAX]);
/* The event a job's end tells (type image.generation.succeeded, .failed
 * or .canceled, from status): {"type", "timestamp" (RFC 3339, UTC, ms),
 * "data": {"id", "object": "image.job", "status", "generation_id",
 * "result" (result_json as it is: the OpenAI response, or null), "error"
 * ({"code", "message", "param"} or null)}}. malloc'd JSON, or NULL when
 * out of memory. The other strings may be NULL. */
char *ig_webhook_job_event(const char *job_id, const char *status, const char *generation_id,
                           const char *result_json, const char *error_code,
                           const char *error_message, const char *error_param, int64_t now_ms);
/* The event type of a job's end status ("succeeded" →
 * "image.generation.succeeded"); NULL for a status that is no end. */
const char *ig_webhook_job_event_type(const char *status);

#endif
