/* history.h — what the history endpoints (api/history.c) share: a
 * recorded generation's images as signed links (the job endpoints show a
 * job's result with them). */
#ifndef IG_API_HISTORY_H
#define IG_API_HISTORY_H

#include "api/app.h"

#include <jansson.h>

/* Signed links to a recorded generation's images (images_json as the
 * history keeps it: [{"sha256","format","seed"}, …]), as [{"url",
 * "seed"}, …], each valid for images.url_ttl_s from now. */
json_t *ig_api_image_links(const struct ig_app *app, const char *base_url, const char *images_json);

#endif
