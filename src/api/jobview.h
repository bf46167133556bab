/* jobview.h — a job as the API shows it (api/jobs.c's endpoints, and the
 * answer to a submission, which api/images.c's waiter sends). */
#ifndef IG_API_JOBVIEW_H
#define IG_API_JOBVIEW_H

#include "api/app.h"
#include "pipeline/generation.h"

#include <jansson.h>

/* What job j shows: its status, progress, links, and result (its
 * generation's images in OpenAI's response shape; NULL: none) or its
 * error in OpenAI's error shape. Its model is the one its request names
 * (by id, whatever name it used), or the default. NULL when out of
 * memory. */
json_t *ig_api_job_json(const struct ig_app *app, const struct ig_job_record *j, json_t *result);

/* j as JSON with its result read from its generation's record when it
 * succeeded (a store call: on the pool). NULL when out of memory. */
json_t *ig_api_job_json_read(struct ig_app *app, const struct ig_job_record *j);

/* The answer to a job's submission that has been committed (g's
 * enqueue stage): 202 with the queued job, and the runner woken. */
void ig_api_job_queued(struct ig_http_req *req, const struct ig_generation *g);

#endif
