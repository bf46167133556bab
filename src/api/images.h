/* images.h — what the image endpoints share with the job endpoints
 * (api/jobs.c), which make their generations the same way. */
#ifndef IG_API_IMAGES_H
#define IG_API_IMAGES_H

#include "api/app.h"
#include "core/gen_error.h"
#include "pipeline/generation.h"

/* A generation for req, its context filled from the request (the key,
 * its account, limits and budgets, the base of image URLs); NULL (and req
 * answered) when out of memory. */
struct ig_generation *ig_api_generation_for(struct ig_app *app, struct ig_http_req *req);
/* Starts g, whose request has been parsed, with req waiting for its
 * answer, through Idempotency-Key (api/idempotency.h). */
void ig_api_generation_run(struct ig_app *app, struct ig_http_req *req, struct ig_generation *g);
/* Answers a request whose body could not be decoded (err) through g's
 * failure stages, so the refusal carries the key's rate-limit headers. */
void ig_api_generation_refuse(struct ig_http_req *req, struct ig_generation *g,
                              const struct ig_gen_error *err);

#endif
