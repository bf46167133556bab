/* idempotency.h — Idempotency-Key on the POSTs that create or cost
 * something: the first answer to a key is recorded and replayed to every
 * retry of the same request, for 24 hours, scoped to the key's account.
 *
 * It lives here, not in the pipeline, because what is replayed is an HTTP
 * answer (status, headers, body), which the pipeline never sees; a
 * request is claimed after it has been decoded (one that fails validation
 * is not remembered) and before anything is counted, reserved or sent to
 * a provider. */
#ifndef IG_API_IDEMPOTENCY_H
#define IG_API_IDEMPOTENCY_H

#include "api/app.h"

/* Runs go(app, req, ud) — at once when req has no Idempotency-Key; with
 * one, once it is claimed for req's account, and its answer is recorded
 * as it is sent (but a 409, 422, 429 or 503, which a retry should not
 * get again, frees the key instead). Otherwise req is answered here and
 * drop(ud) is called instead of go: with the recorded answer (header
 * Idempotent-Replayed: true), 409 idempotency_key_in_use while the first
 * request runs, 422 idempotency_key_reused for another method, path or
 * body, 400 for a key that is empty, longer than 255 characters or sent
 * twice. "The same request" is the same method, path and body (a
 * multipart body without its boundary, which changes between sends).
 * With release_body, req's body is released once it is hashed, before
 * anything else (an upload's parts live in the generation by then). */
void ig_idem_run(struct ig_app *app, struct ig_http_req *req,
                 void (*go)(struct ig_app *app, struct ig_http_req *req, void *ud),
                 void (*drop)(void *ud), void *ud, int release_body);

#endif
