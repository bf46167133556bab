/* ledger.h — the rules of accounts and credits, built on store.h's
 * transactions: a hold never takes an account below zero, however many
 * are asked for at once; every movement is a ledger entry written with the
 * balance it changes; a hold is settled once. Amounts in millicredits. */
#ifndef IG_STORE_LEDGER_H
#define IG_STORE_LEDGER_H

#include "store/store.h"

/* Sets h->amount aside on h->account_id for a generation, in one
 * transaction: 0, with *balance the balance after it; IG_EFUNDS when a
 * metered account's balance is below the amount (*balance is the balance);
 * IG_ENOTFOUND for an unknown account; IG_EDB. */
int ig_ledger_hold(struct ig_store *s, const struct ig_hold_record *h, int64_t *balance);

/* One hold of a batch, and its answer (rc and balance as ig_ledger_hold;
 * IG_EBUDGET when one of its budgets would be passed: budget_refused is
 * its index in hold.budgets, budget_spent what that budget has spent). */
struct ig_hold_request {
    struct ig_hold_record hold;
    int64_t balance;
    int rc;
    int budget_refused;
    int64_t budget_spent;
};

/* The UTC day ("2026-12-06") and month ("2026-12") of ms, as budgets
 * name their periods. */
void ig_budget_periods(int64_t ms, char day[12], char month[12]);
/* The budgets of key key_id and of its account that are set (not
 * IG_UNSET), in their periods at now_ms, into out: how many. */
int ig_budget_uses(const char *key_id, const struct ig_budgets *key, const char *account_id,
                   const struct ig_budgets *account, int64_t now_ms,
                   struct ig_budget_use out[IG_HOLD_BUDGETS]);

/* The holds of n requests in one transaction, in order (each sees the
 * balance the ones before it left): a refused one (IG_EFUNDS,
 * IG_ENOTFOUND) changes nothing and the others go on; when the
 * transaction itself fails, every rc is its error. Returns 0 or that
 * error. */
int ig_ledger_hold_many(struct ig_store *s, struct ig_hold_request *r, size_t n);
/* One hold inside an open transaction (a job's submission): r->rc says
 * what became of it (a refused one wrote nothing); the return is nonzero
 * only for a failure that ends the transaction. */
int ig_ledger_tx_hold(struct ig_store_tx *tx, struct ig_hold_request *r);
/* The holds of n requests inside an open transaction (a batch of job
 * submissions), in order, each seeing what the ones before it took: per
 * account one read of its balance, and one ledger entry and balance move
 * for all its holds (reason "N holds"); each hold's rc and balance as
 * ig_ledger_tx_hold's. The return is nonzero only for a failure that ends
 * the transaction. */
int ig_ledger_tx_hold_many(struct ig_store_tx *tx, struct ig_hold_request **r, size_t n,
                           int64_t now_ms);
/* Inside a transaction (a generation's write): releases the hold hold_id
 * (when given and still open) and charges `charge` for what was
 * delivered, moving the hold's budgets by the difference (with an alert
 * for each 50/80/100 percent they reach). Settling twice releases once. *balance (may be NULL) gets
 * the balance after. */
int ig_ledger_settle(struct ig_store_tx *tx, const char *account_id, const char *hold_id,
                     const char *generation_id, int64_t charge, int64_t now_ms, int64_t *balance);
/* Inside a generation write's transaction (the store calls it once its
 * rows are in): applies the charges of w[0..n) (those with one) together,
 * per account one balance move and one ledger entry of kind charge, per
 * budget and period one move of its spend, with an alert for each 50/80/
 * 100 percent it reaches; fills each charge's balance and spends. */
int ig_ledger_charge_writes(struct ig_store_tx *tx, struct ig_generation_write *const *w, size_t n,
                            int64_t now_ms);
/* Adds amount (negative to take away) as a grant, refund or adjustment,
 * with its reason. An adjustment may not take a metered account below
 * zero (IG_EFUNDS). *balance (may be NULL) gets the balance after. */
int ig_ledger_credit(struct ig_store *s, const char *account_id, enum ig_ledger_kind kind,
                     int64_t amount, const char *reason, int64_t now_ms, int64_t *balance);
/* Releases every hold still open that was made before before_ms (their
 * generations died with a process), except jobs' holds, which live until
 * their jobs end; *released gets how many. */
int ig_ledger_release_stale(struct ig_store *s, int64_t before_ms, int *released);
/* Creates account a with grant credits (a grant entry when above zero)
 * and, when key is not NULL, key as its first key: all or nothing. */
int ig_account_create(struct ig_store *s, const struct ig_account_record *a, int64_t grant,
                      const struct ig_key_record *key, int64_t now_ms);

#endif
