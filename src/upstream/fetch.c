/* fetch.c — one blocking request through libcurl's easy interface; see
 * fetch.h. http and https only; no redirects. */
#include "upstream/fetch.h"

#include "util/err.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

void ig_fetch_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ig_fetch_global_cleanup(void)
{
    curl_global_cleanup();
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    struct ig_buf *b = ud;
    size_t n = size * nmemb;
    return ig_buf_append(b, data, n) == 0 ? n : 0;
}

int ig_fetch(const char *method, const char *url, const char *key, const char *json_body,
             size_t max_body, const char *user_agent, struct ig_fetch_result *out)
{
    memset(out, 0, sizeof *out);
    ig_buf_init(&out->body, max_body);
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(out->error, sizeof out->error, "cannot start libcurl");
        return IG_ENOMEM;
    }
    struct curl_slist *headers = NULL;
    char auth[600];
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        headers = curl_slist_append(headers, auth);
    }
    if (json_body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
    }
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(curl);
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(cc));
        rc = IG_EIO;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}
