/* routes.h — named models and their deployments from the YAML config:
 *
 *   models:
 *     - name: resilient-flux
 *       deployments:
 *         - { provider: fal, model: fal-ai/flux/schnell }
 *         - { provider: bfl, model: flux-pro-1.1, priority: 1 }
 *     - name: house-dalle
 *       deployments:
 *         - provider: openai
 *           model: dall-e-3
 *           api_base: http://10.0.0.5:8000/v1   # default: the provider's
 *           api_key: env:HOUSE_OPENAI_KEY       # env:NAME, or the provider's variable
 *           priority: 0                         # lower first (default 0)
 *           weight: 2                           # among equal priorities (default 1)
 *           timeout_ms: 60000                   # default 120000
 *
 * A model takes its capabilities (sizes, n, qualities, …) from its first
 * deployment's provider model. Deployments of providers this build has no
 * adapter for are kept but never chosen, so such a model answers 503
 * no_provider until one is added. */
#ifndef IG_ROUTES_H
#define IG_ROUTES_H

#include "core/models.h"

#include <stddef.h>

/* Adds the models of path's `models:` section. On failure err names the
 * file, line and field. */
int ig_routes_load(struct ig_models *m, const char *path, char *err, size_t err_size);

#endif
