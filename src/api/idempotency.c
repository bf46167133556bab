/* idempotency.c — see idempotency.h. Claims and records run on the thread
 * pool (store/store.h: idem_claim, idem_finish). A claim is held until
 * the answer is recorded, or for the upstream deadline and a minute more
 * when its process dies, after which a retry takes it over. */
#include "api/idempotency.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KEY_MAX   255
#define TTL_MS    (24 * 3600 * 1000LL)
#define HEADER    "idempotency-key"
#define REPLAYED  "Idempotent-Replayed"
#define KEPT_HDRS "x-imagegate-" /* the headers an answer replays: cost, credits */

struct claim {
    struct ig_app *app;
    void (*go)(struct ig_app *app, struct ig_http_req *req, void *ud);
    void (*drop)(void *ud);
    void *ud;
    struct ig_idem_claim c;
    char account_id[IG_ID_MAX];
    char key[KEY_MAX + 1];
    struct ig_idem_found found;
    int rc;
};

/* The recording of an answer, on the pool after it was sent. */
struct record {
    struct ig_app *app;
    char account_id[IG_ID_MAX];
    char key[KEY_MAX + 1];
    int status;
    char *content_type, *headers, *body;
    size_t body_len;
};

static void record_run(uv_work_t *w)
{
    struct record *r = w->data;
    int rc = ig_store_idem_finish(r->app->store, r->account_id, r->key, r->status, r->content_type,
                                  r->headers, r->body, r->body_len);
    if (rc)
        ig_error("idempotency: cannot record the answer to a key of account %s: %s", r->account_id,
                 ig_strerror(rc));
}

static void record_free(struct record *r)
{
    free(r->content_type);
    free(r->headers);
    free(r->body);
    free(r);
}

static void record_done(uv_work_t *w, int status)
{
    (void)status;
    record_free(w->data);
    free(w);
}

/* The lines of the answer's own headers that a replay carries. */
static char *kept_headers(const struct ig_http_req *req)
{
    struct ig_buf out;
    ig_buf_init(&out, 16384);
    const char *p = req->resp_headers.data, *end = p ? p + req->resp_headers.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
        if (n > strlen(KEPT_HDRS) && strncasecmp(p, KEPT_HDRS, strlen(KEPT_HDRS)) == 0)
            ig_buf_append(&out, p, n);
        p += n;
    }
    if (ig_buf_puts(&out, "")) {
        ig_buf_release(&out);
        return NULL;
    }
    return ig_buf_detach(&out, NULL);
}

/* The claimed request's answer, as it is sent: recorded on the pool (the
 * answer itself goes out at once). */
static void on_respond(struct ig_http_req *req, int status, const char *content_type,
                       const char *body, size_t len, void *arg)
{
    struct claim *cl = arg;
    struct record *r = calloc(1, sizeof *r);
    uv_work_t *w = calloc(1, sizeof *w);
    if (!r || !w) {
        free(r);
        free(w);
        ig_error("idempotency: out of memory recording an answer; the key stays claimed");
        ig_api_req_of(req)->idem = NULL;
        req->on_respond = NULL;
        free(cl);
        return;
    }
    r->app = cl->app;
    ig_strlcpy(r->account_id, cl->account_id, sizeof r->account_id);
    ig_strlcpy(r->key, cl->key, sizeof r->key);
    /* Answers a retry should not get again free the key instead. */
    int forget = status == 409 || status == 422 || status == 429 || status == 503;
    r->status = forget ? 0 : status;
    if (!forget) {
        r->content_type = strdup(content_type ? content_type : "application/json");
        r->headers = kept_headers(req);
        r->body = malloc(len + 1);
        if (r->body) {
            memcpy(r->body, body, len);
            r->body_len = len;
        }
        if (!r->content_type || !r->headers || !r->body)
            r->status = 0; /* cannot keep it: free the key rather than keep it claimed */
    }
    ig_api_req_of(req)->idem = NULL; /* cl is done */
    free(cl);
    req->on_respond = NULL;
    w->data = r;
    if (uv_queue_work(ig_app_pipeline_worker(req)->loop, w, record_run, record_done)) {
        record_free(r);
        free(w);
    }
}

/* The first request's answer is recorded on the pool just after it is
 * sent, so a retry sent on receiving it may find the claim still running
 * for a moment: it looks again for up to 50 ms before answering 409. */
#define SETTLE_TRIES 25
#define SETTLE_US    2000

static void claim_work(void *p)
{
    struct claim *cl = p;
    for (int i = 0;; i++) {
        cl->rc = ig_store_idem_claim(cl->app->store, &cl->c, &cl->found);
        if (cl->rc != IG_EEXISTS || cl->found.done || i == SETTLE_TRIES ||
            !ig_ct_equal(cl->found.request_hash, cl->c.request_hash, 32))
            return;
        ig_idem_found_release(&cl->found);
        usleep(SETTLE_US);
    }
}

static void claim_done(struct ig_http_req *req, void *ctx)
{
    struct claim *cl = ctx;
    if (cl->rc == 0) {
        /* Claimed: the request runs, and its answer is recorded (cl is
         * freed then, or with the request if it ends unanswered). */
        req->on_respond = on_respond;
        req->on_respond_arg = cl;
        ig_api_req_of(req)->idem = cl;
        cl->go(cl->app, req, cl->ud);
        return;
    }
    cl->drop(cl->ud);
    if (cl->rc != IG_EEXISTS) {
        ig_api_respond_error(req, 503, "server_error", "store_unavailable", NULL,
                             "Idempotency keys cannot be checked now; try again.");
    } else if (!ig_ct_equal(cl->found.request_hash, cl->c.request_hash, 32)) {
        ig_api_respond_error(req, 422, "invalid_request_error", "idempotency_key_reused",
                             "Idempotency-Key",
                             "This Idempotency-Key was used with another request; use a new key "
                             "for a new request.");
    } else if (!cl->found.done) {
        ig_http_add_header(req, "Retry-After", "1");
        ig_api_respond_error(req, 409, "invalid_request_error", "idempotency_key_in_use",
                             "Idempotency-Key",
                             "A request with this Idempotency-Key is still running; retry "
                             "shortly to get its answer.");
    } else {
        /* The recorded answer, as it was. */
        const char *p = cl->found.headers;
        while (*p) {
            const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
            if (!colon || !eol || colon > eol)
                break;
            char name[64], value[128];
            size_t nn = (size_t)(colon - p), vn = (size_t)(eol - colon - 1);
            const char *v = colon + 1;
            while (vn && *v == ' ')
                v++, vn--;
            while (vn && (v[vn - 1] == '\r' || v[vn - 1] == ' '))
                vn--;
            if (nn < sizeof name && vn < sizeof value) {
                memcpy(name, p, nn);
                name[nn] = '\0';
                memcpy(value, v, vn);
                value[vn] = '\0';
                ig_http_add_header(req, name, value);
            }
            p = eol + 1;
        }
        ig_http_add_header(req, REPLAYED, "true");
        ig_http_respond(req, cl->found.status, cl->found.content_type, cl->found.body,
                        cl->found.body_len, IG_BODY_FREE);
        cl->found.body = NULL;
    }
    ig_idem_found_release(&cl->found);
    free(cl);
}

/* The boundary of a multipart body (its content type's boundary=…), or
 * NULL: it differs between two sends of the same form, so it is not part
 * of what "the same request" means. */
static const char *boundary_of(const struct ig_http_req *req, size_t *len)
{
    size_t n;
    const char *ct = ig_http_header(req, "content-type", &n);
    if (!ct || n < 19 || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return NULL;
    for (size_t i = 19; i + 9 <= n; i++) {
        if (strncasecmp(ct + i, "boundary=", 9) != 0)
            continue;
        const char *b = ct + i + 9;
        size_t k = 0;
        int quoted = b < ct + n && *b == '"';
        b += quoted;
        while (b + k < ct + n && b[k] != (quoted ? '"' : ';') && b[k] != ' ')
            k++;
        *len = k;
        return k ? b : NULL;
    }
    return NULL;
}

/* SHA-256 of the method, the path and the body (a multipart body without
 * its boundary): what "the same request" means. */
static void request_hash(const struct ig_http_req *req, uint8_t out[32])
{
    struct ig_buf b;
    ig_buf_init(&b, req->body.len + req->path_len + 64);
    const char *method = ig_http_method_name(req);
    int rc = ig_buf_puts(&b, method) || ig_buf_puts(&b, "\n") ||
             ig_buf_append(&b, req->path, req->path_len) || ig_buf_puts(&b, "\n");
    size_t blen = 0;
    const char *boundary = boundary_of(req, &blen);
    const char *p = req->body.data, *end = p ? p + req->body.len : NULL;
    while (!rc && p && p < end) {
        const char *at = boundary ? memmem(p, (size_t)(end - p), boundary, blen) : NULL;
        rc = ig_buf_append(&b, p, at ? (size_t)(at - p) : (size_t)(end - p));
        p = at ? at + blen : end;
    }
    if (rc)
        memset(out, 0, 32);
    else
        ig_sha256(b.data, b.len, out);
    ig_buf_release(&b);
}

void ig_idem_run(struct ig_app *app, struct ig_http_req *req,
                 void (*go)(struct ig_app *app, struct ig_http_req *req, void *ud),
                 void (*drop)(void *ud), void *ud, int release_body)
{
    size_t n = 0, count = ig_http_header_count(req, HEADER);
    const char *key = ig_http_header(req, HEADER, &n);
    uint8_t hash[32];
    if (key)
        request_hash(req, hash);
    if (release_body)
        ig_buf_release(&req->body);
    if (!key) {
        go(app, req, ud);
        return;
    }
    int printable = 1;
    for (size_t i = 0; i < n; i++)
        printable &= (unsigned char)key[i] >= 0x21 && (unsigned char)key[i] <= 0x7e;
    if (count > 1 || n == 0 || n > KEY_MAX || !printable) {
        drop(ud);
        ig_api_respond_error(req, 400, "invalid_request_error", "invalid_idempotency_key",
                             "Idempotency-Key",
                             "Send one Idempotency-Key of 1 to %d printable characters.", KEY_MAX);
        return;
    }
    struct claim *cl = calloc(1, sizeof *cl);
    if (!cl) {
        drop(ud);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL, "out of memory");
        return;
    }
    cl->app = app;
    cl->go = go;
    cl->drop = drop;
    cl->ud = ud;
    ig_strlcpy(cl->account_id, ig_api_req_of(req)->account.account_id, sizeof cl->account_id);
    memcpy(cl->key, key, n);
    cl->key[n] = '\0';
    cl->c.account_id = cl->account_id;
    cl->c.key = cl->key;
    memcpy(cl->c.request_hash, hash, sizeof hash);
    cl->c.now_ms = ig_unix_ms();
    cl->c.lock_ms = app->cfg->upstream_deadline_ms + 60000;
    cl->c.ttl_ms = TTL_MS;
    if (ig_app_offload(req, claim_work, claim_done, cl)) {
        drop(ud);
        free(cl);
        ig_api_respond_error(req, 503, "server_error", "overloaded", NULL,
                             "The server is overloaded; try again.");
    }
}
