/* balances.h — what the store last said an account's balance is and what
 * a budget has spent in a period, kept in memory so that a reservation
 * (pipeline/reserve.c) needs no store call.
 *
 * Values come from the store: read when missing, and lowered (balances)
 * or raised (spends) by each settlement's own answer. A grant or an
 * adjustment happens elsewhere, so it empties the cache
 * (ig_balances_forget_all, through the bus), which also bumps the epoch:
 * a value read or settled before that is then refused, since it may be
 * older than the change. A missing value is never a guess: the caller
 * reads the store.
 *
 * In-process; a fleet keeps these with its shared counters (Redis). A
 * fixed direct-mapped table: a key that collides replaces the other,
 * which is read again when next needed. Thread-safe. A NULL cache knows
 * nothing and keeps nothing. */
#ifndef IG_BALANCES_H
#define IG_BALANCES_H

#include <stdint.h>

struct ig_balances;

enum ig_balance_mode {
    IG_BALANCE_MIN, /* keep the lower of the two (a balance, which charges lower) */
    IG_BALANCE_MAX, /* keep the higher (a spend, which charges raise) */
};

int ig_balances_new(struct ig_balances **out);
void ig_balances_free(struct ig_balances *b);
/* The epoch to pass to ig_balances_put: read it before reading the store. */
uint64_t ig_balances_epoch(struct ig_balances *b);
/* 1 and *out when key is known, else 0. */
int ig_balances_get(struct ig_balances *b, const char *key, int64_t *out);
/* Records what the store said of key, as of epoch: set when missing,
 * else combined by mode; ignored when the cache was emptied since epoch. */
void ig_balances_put(struct ig_balances *b, const char *key, int64_t value, uint64_t epoch,
                     enum ig_balance_mode mode);
/* Empties the cache (a grant, an adjustment, a budget changed). */
void ig_balances_forget_all(struct ig_balances *b);

#endif
