/* num.h — bounded number parsing (no atoi). Each parser rejects empty input,
 * trailing garbage, and values outside [min, max]. */
#ifndef IG_NUM_H
#define IG_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses a decimal integer from s[0..n). 0, IG_EINVAL or IG_ERANGE. */
int ig_parse_i64(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);
/* Parses "WxH" (either case of x); each side within [min, max]. */
int ig_parse_size(const char *s, int min, int max, int *w, int *h);

/* A 64-bit hash of the string s (its length into *len): eight bytes at a
 * time, for the keys of in-memory tables (not for anything an attacker
 * may aim collisions at without bound: tables that use it are fixed-size). */
uint64_t ig_hash_str(const char *s, size_t *len);

/* v in decimal into out (at least 21 bytes), NUL-terminated: its length.
 * For the per-generation numbers of answers, without printf's cost. */
size_t ig_format_u64(uint64_t v, char *out);

#endif
