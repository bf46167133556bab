/* credits.h — credits in the API: decimals in JSON, millicredits inside. */
#ifndef IG_API_CREDITS_H
#define IG_API_CREDITS_H

#include "store/store.h"

#include <jansson.h>
#include <stdint.h>

/* Millicredits as a JSON number of credits (10500 → 10.5). */
json_t *ig_api_credits_json(int64_t millicredits);
/* A JSON number or string of credits ("10.5", 10.5, -3) to millicredits:
 * 0 or IG_EINVAL (more than three decimals, not a number, too large). */
int ig_api_credits_of(const json_t *v, int64_t *out);

/* Budgets as JSON: {"daily": credits or null, "monthly": …}. */
json_t *ig_api_budgets_json(const struct ig_budgets *b);
/* The budgets of a PATCH (v may be NULL: nothing changes): an object of
 * daily and monthly, each absent (IG_UNCHANGED), null (IG_UNSET: no
 * budget) or credits of zero or more. 0 or IG_EINVAL. */
int ig_api_budgets_of(json_t *v, struct ig_budgets *out);

/* account_id's budget alerts of this month (UTC) as a JSON array, into
 * *out (the caller releases it). Blocks: on the thread pool. */
int ig_api_budget_alerts(struct ig_store *s, const char *account_id, json_t **out);

#endif
