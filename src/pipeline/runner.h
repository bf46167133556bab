/* runner.h — the job runner: runs durable jobs (pipeline/job.c) as
 * generations that no request waits on.
 *
 * One per process, on one worker's loop. It claims due jobs from the
 * store with a lease under a name of its own (store.h: job_claim), at most
 * jobs.runners at once, every jobs.poll_ms or at once when woken (a job
 * was submitted, or a cancel asked for); it renews the leases of the jobs
 * it runs every third of jobs.lease_ms, and cancels those whose cancel
 * was asked for (by any instance). A job whose runner died is taken over
 * by the next claim once its lease has passed; it follows its provider's
 * job when one was kept. The webhook deliverer (pipeline/webhooks.h) runs
 * beside it, under its name. */
#ifndef IG_RUNNER_H
#define IG_RUNNER_H

#include "pipeline/pipeline.h"

struct ig_job_runner;

/* A runner on w's loop (which must be running). IG_ENOMEM. */
int ig_job_runner_start(struct ig_pipeline_worker *w, struct ig_job_runner **out);
/* Any thread: claim due jobs and look for cancel requests now. Does
 * nothing once the runner is stopping. */
void ig_job_runner_wake(struct ig_job_runner *r);
/* On its loop: stops claiming and renewing, and gives up the leases of
 * the jobs it runs so that the next instance may take them over at once
 * (those still running here go on and may still end). The runner's
 * memory stays until ig_job_runner_free (after every thread that may wake
 * it has stopped). */
void ig_job_runner_stop(struct ig_job_runner *r);
void ig_job_runner_free(struct ig_job_runner *r);
/* The worker it runs on. */
struct ig_pipeline_worker *ig_job_runner_worker(const struct ig_job_runner *r);
/* The runner's lease name ("run_…"). */
const char *ig_job_runner_owner(const struct ig_job_runner *r);

#endif
