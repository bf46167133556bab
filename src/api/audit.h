/* audit.h — the audit trail of admin actions and safety decisions
 * (append-only, in the store), and GET /admin/audit. */
#ifndef IG_API_AUDIT_H
#define IG_API_AUDIT_H

#include "api/app.h"

#include <jansson.h>

/* Appends an entry, on the thread pool (it blocks on the store): actor is
 * the key that acted (NULL: the gateway), account_id whose it concerns,
 * action what ("key.create", "moderation.block"), target what it acted
 * on, detail a JSON object (stolen; may be NULL). A failure is logged:
 * the action it records has happened. */
void ig_app_audit(struct ig_app *app, const char *actor, const char *account_id, const char *action,
                  const char *target, json_t *detail);

#endif
