/* keys.h — the rules of the key table, built on store.h's transactions. */
#ifndef IG_STORE_KEYS_H
#define IG_STORE_KEYS_H

#include "store/store.h"

/* Revokes the live key id at time now (unix seconds), unless it is the
 * last live key with the admin scope: revoking that one would lock every
 * operator out for good. The check and the revocation are one
 * transaction, so two admins revoking each other's keys at once cannot
 * both succeed. 0; IG_ENOTFOUND when no live key has that id;
 * IG_ECONFLICT when it is the last admin key; IG_EDB. */
int ig_key_revoke(struct ig_store *s, const char *id, int64_t now);

/* Inserts key k into its existing account k->account_id, in one
 * transaction: 0; IG_ENOTFOUND when the account does not exist;
 * IG_EEXISTS; IG_EDB. */
int ig_key_insert_for_account(struct ig_store *s, const struct ig_key_record *k);

#endif
