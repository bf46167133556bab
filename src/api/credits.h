/* credits.h — credits in the API: decimals in JSON, millicredits inside. */
#ifndef IG_API_CREDITS_H
#define IG_API_CREDITS_H

#include <jansson.h>
#include <stdint.h>

/* Millicredits as a JSON number of credits (10500 → 10.5). */
json_t *ig_api_credits_json(int64_t millicredits);
/* A JSON number or string of credits ("10.5", 10.5, -3) to millicredits:
 * 0 or IG_EINVAL (more than three decimals, not a number, too large). */
int ig_api_credits_of(const json_t *v, int64_t *out);

#endif
