/* reserve.h — what the reserve stage (pipeline/reserve.c) tells others:
 * the credits an account's generations in flight have reserved. */
#ifndef IG_PIPELINE_RESERVE_H
#define IG_PIPELINE_RESERVE_H

#include "pipeline/pipeline.h"

/* Reads what account_id's generations in flight have reserved: cb gets it
 * as its value (millicredits), on the caller's loop, possibly at once. */
void ig_reserved_read(struct ig_pipeline *p, const char *account_id, ig_counter_cb cb, void *ud);

#endif
