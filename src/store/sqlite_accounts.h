/* sqlite_accounts.h — private to store/: the SQL of accounts, keys in
 * transactions, the ledger and holds, for sqlite.c's operations table.
 * Every function runs on a connection (c->db) whose store lock the caller holds,
 * inside the transaction it opened; none locks or begins. Returns 0,
 * IG_ENOTFOUND, IG_EEXISTS (a constraint) or IG_EDB. */
#ifndef IG_STORE_SQLITE_ACCOUNTS_H
#define IG_STORE_SQLITE_ACCOUNTS_H

#include "store/store.h"

#include "store/sqlite_stmt.h"

#include <sqlite3.h>

int ig_sqlite_account_insert(struct ig_sqlite_cache *c, const struct ig_account_record *a);
int ig_sqlite_account_find(struct ig_sqlite_cache *c, const char *id,
                           struct ig_account_record *out);
int ig_sqlite_account_balance(struct ig_sqlite_cache *c, const char *id, int64_t *balance,
                              int *metered);
/* Calls cb for each account, oldest first; a non-zero return stops. */
int ig_sqlite_account_list(struct ig_sqlite_cache *c,
                           int (*cb)(const struct ig_account_record *, void *), void *ud);
int ig_sqlite_account_update(struct ig_sqlite_cache *c, const char *id,
                             const struct ig_account_patch *p, struct ig_account_record *out);
/* IG_ENOTFOUND when no key has that id. */
int ig_sqlite_key_update(struct ig_sqlite_cache *c, const char *id, const struct ig_key_patch *p);
int ig_sqlite_key_insert(struct ig_sqlite_cache *c, const struct ig_key_record *k);
/* Appends e and moves its account's balance by e->amount; *balance (may
 * be NULL) gets the balance after. When covered, only if the account is
 * not metered or stays at or above zero: IG_EFUNDS otherwise, with
 * *balance the balance as it is. */
int ig_sqlite_ledger_append(struct ig_sqlite_cache *c, const struct ig_ledger_entry *e, int covered,
                            int64_t *balance);
/* The sum of an account's entries (to check the balance against). */
int ig_sqlite_ledger_sum(struct ig_sqlite_cache *c, const char *account_id, int64_t *out);
int ig_sqlite_hold_insert(struct ig_sqlite_cache *c, const struct ig_hold_record *h);
/* Closes the open hold id at now_ms; *out gets it as it was. IG_ENOTFOUND
 * when no open hold has that id (settled already, or never made). */
int ig_sqlite_hold_close(struct ig_sqlite_cache *c, const char *id, int64_t now_ms,
                         struct ig_hold_record *out);
/* The oldest hold still open that was made before before_ms. */
int ig_sqlite_hold_oldest_open(struct ig_sqlite_cache *c, int64_t before_ms,
                               struct ig_hold_record *out);

/* Budgets, BYOK keys and the audit trail: as store.h's operations of
 * the same names. */
int ig_sqlite_budget_add(struct ig_sqlite_cache *c, const char *subject, const char *period,
                         int64_t delta, int64_t limit, int64_t *spent);
int ig_sqlite_budget_spent(struct ig_sqlite_cache *c, const char *subject, const char *period,
                           int64_t *out);
int ig_sqlite_budget_alert(struct ig_sqlite_cache *c, const struct ig_budget_alert *a, int *added);
int ig_sqlite_budget_alerts(struct ig_sqlite_cache *c, const char *account_id, int64_t since_ms,
                            int (*cb)(const struct ig_budget_alert *, void *), void *ud);
int ig_sqlite_byok_put(struct ig_sqlite_cache *c, const struct ig_byok_record *r);
int ig_sqlite_byok_delete(struct ig_sqlite_cache *c, const char *account_id, const char *provider);
int ig_sqlite_byok_list(struct ig_sqlite_cache *c, const char *account_id,
                        int (*cb)(const struct ig_byok_record *, void *), void *ud);
int ig_sqlite_idem_claim(struct ig_sqlite_cache *c, const struct ig_idem_claim *k,
                         struct ig_idem_found *out);
int ig_sqlite_idem_finish(struct ig_sqlite_cache *c, const char *account_id, const char *key,
                          int status, const char *content_type, const char *headers,
                          const char *body, size_t body_len);
int ig_sqlite_audit_append(struct ig_sqlite_cache *c, const struct ig_audit_record *r);
int ig_sqlite_audit_list(struct ig_sqlite_cache *c, const struct ig_audit_query *q,
                         int (*cb)(const struct ig_audit_record *, void *), void *ud);

#endif
