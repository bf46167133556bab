/* webhook.c — webhook secrets, signatures and job events; see webhook.h. */
#include "core/webhook.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/json.h"
#include "util/num.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET_BYTES 24

int ig_webhook_url_valid(const char *u)
{
    size_t n = strlen(u);
    int ok = n <= IG_WEBHOOK_URL_MAX && ((strncmp(u, "https://", 8) == 0 && n > 8) ||
                                         (strncmp(u, "http://", 7) == 0 && n > 7));
    for (size_t i = 0; ok && i < n; i++)
        ok = u[i] > 0x20 && u[i] < 0x7f;
    return ok;
}

void ig_webhook_secret(const uint8_t *instance_secret, size_t secret_len, const char *account_id,
                       int64_t version, char out[IG_WEBHOOK_SECRET_MAX])
{
    static const char label[] = "imagegate webhook v1";
    char msg[sizeof label + 48 + 24];
    size_t a = strnlen(account_id, 47), n = 0;
    memcpy(msg, label, sizeof label); /* its NUL included */
    n = sizeof label;
    memcpy(msg + n, account_id, a);
    n += a;
    msg[n++] = '\0';
    n += ig_format_u64(version > 0 ? (uint64_t)version : 0, msg + n);
    uint8_t mac[32];
    ig_hmac_sha256(instance_secret, secret_len, msg, n, mac);
    memcpy(out, "whsec_", 6);
    ig_base64_encode(mac, SECRET_BYTES, out + 6);
    explicit_bzero(mac, sizeof mac);
}

int ig_webhook_sign(const char *whsec, const char *msg_id, int64_t timestamp, const char *body,
                    size_t body_len, char out[IG_WEBHOOK_SIGNATURE_MAX])
{
    if (strncmp(whsec, "whsec_", 6) != 0)
        return IG_EINVAL;
    const char *b64 = whsec + 6;
    size_t b64_len = strlen(b64);
    uint8_t key[64];
    if (b64_len == 0 || b64_len % 4 || b64_len / 4 * 3 > sizeof key)
        return IG_EINVAL;
    long key_len = ig_base64_decode(b64, b64_len, key);
    if (key_len <= 0)
        return IG_EINVAL;
    size_t id_len = strlen(msg_id);
    char ts[24];
    size_t ts_len = ig_format_u64(timestamp > 0 ? (uint64_t)timestamp : 0, ts);
    size_t n = id_len + 1 + ts_len + 1 + body_len;
    char *signed_text = malloc(n);
    if (!signed_text) {
        explicit_bzero(key, sizeof key);
        return IG_ENOMEM;
    }
    memcpy(signed_text, msg_id, id_len);
    signed_text[id_len] = '.';
    memcpy(signed_text + id_len + 1, ts, ts_len);
    signed_text[id_len + 1 + ts_len] = '.';
    memcpy(signed_text + id_len + 2 + ts_len, body, body_len);
    uint8_t mac[32];
    ig_hmac_sha256(key, (size_t)key_len, signed_text, n, mac);
    free(signed_text);
    explicit_bzero(key, sizeof key);
    memcpy(out, "v1,", 3);
    ig_base64_encode(mac, sizeof mac, out + 3);
    return 0;
}

const char *ig_webhook_job_event_type(const char *status)
{
    if (strcmp(status, "succeeded") == 0)
        return "image.generation.succeeded";
    if (strcmp(status, "failed") == 0)
        return "image.generation.failed";
    if (strcmp(status, "canceled") == 0)
        return "image.generation.canceled";
    return NULL;
}

char *ig_webhook_job_event(const char *job_id, const char *status, const char *generation_id,
                           const char *result_json, const char *error_code,
                           const char *error_message, const char *error_param, int64_t now_ms)
{
    const char *type = ig_webhook_job_event_type(status);
    if (!type)
        return NULL;
    char when[32];
    ig_format_time_ms(now_ms, when);
    struct ig_buf b;
    ig_buf_init(&b, (size_t)64 << 20);
    struct ig_jw jw;
    ig_jw_begin(&jw, &b);
    ig_jw_str(&jw, "type", type);
    ig_jw_str(&jw, "timestamp", when);
    ig_jw_open(&jw, "data", '{');
    ig_jw_str(&jw, "id", job_id);
    ig_jw_str(&jw, "object", "image.job");
    ig_jw_str(&jw, "status", status);
    ig_jw_str(&jw, "generation_id", generation_id && generation_id[0] ? generation_id : NULL);
    ig_jw_raw(&jw, "result", result_json ? result_json : "null");
    if (error_message) {
        ig_jw_open(&jw, "error", '{');
        ig_jw_str(&jw, "code", error_code);
        ig_jw_str(&jw, "message", error_message);
        ig_jw_str(&jw, "param", error_param && error_param[0] ? error_param : NULL);
        ig_jw_close(&jw, '}');
    } else {
        ig_jw_raw(&jw, "error", "null");
    }
    ig_jw_close(&jw, '}');
    if (ig_jw_end(&jw)) {
        ig_buf_release(&b);
        return NULL;
    }
    return ig_buf_detach(&b, NULL);
}
