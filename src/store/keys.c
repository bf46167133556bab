/* keys.c — the rules of the key table. */
#include "store/keys.h"
#include "util/err.h"

#include <stdint.h>

struct revoke_args {
    const char *id;
    int64_t now;
};

static int revoke_body(struct ig_store_tx *tx, void *ud)
{
    struct revoke_args *a = ud;
    struct ig_key_record k;
    int rc = ig_store_tx_key_find_by_id(tx, a->id, &k);
    if (rc)
        return rc;
    if (k.revoked_at)
        return IG_ENOTFOUND;
    if (k.scopes & IG_SCOPE_ADMIN) {
        int64_t admins = 0;
        rc = ig_store_tx_key_count_live(tx, IG_SCOPE_ADMIN, &admins);
        if (rc)
            return rc;
        if (admins <= 1)
            return IG_ECONFLICT;
    }
    return ig_store_tx_key_revoke(tx, a->id, a->now);
}

int ig_key_revoke(struct ig_store *s, const char *id, int64_t now)
{
    struct revoke_args a = {.id = id, .now = now};
    return ig_store_transact(s, revoke_body, &a);
}

static int insert_body(struct ig_store_tx *tx, void *ud)
{
    const struct ig_key_record *k = ud;
    struct ig_account_record a;
    int rc = ig_store_tx_account_find(tx, k->account_id, &a);
    return rc ? rc : ig_store_tx_key_insert(tx, k);
}

int ig_key_insert_for_account(struct ig_store *s, const struct ig_key_record *k)
{
    return ig_store_transact(s, insert_body, (void *)(uintptr_t)k);
}
