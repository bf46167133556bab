/* imgcache.h — the exact cache of generations, and their single flights.
 *
 * A cache entry is what a generation stored: its id and its images (the
 * blobs are content-addressed and immutable, so an entry stays good until
 * it expires). Keyed by a hash of the normalized request
 * (pipeline/cache.c). In-process: a fixed direct-mapped table of
 * pointers, an entry allocated to its size; a colliding key replaces the
 * other. A fleet keeps these in Redis beside its counters.
 *
 * A flight is a cacheable generation in progress: the first request of a
 * key leads it (calls the provider); identical requests that come while it
 * is in the air follow it and are served from what it lands with, or go
 * their own way when it fails. Thread-safe; followers look on their own
 * loops (ig_flight_landed). */
#ifndef IG_IMGCACHE_H
#define IG_IMGCACHE_H

#include "store/store.h"

#include <stdint.h>

#define IG_CACHE_KEY    32
#define IG_CACHE_IMAGES 16

struct ig_cache_entry {
    uint8_t key[IG_CACHE_KEY];
    char generation_id[IG_ID_MAX];
    int64_t expires_ms;
    int nimages;
    struct ig_image_record images[IG_CACHE_IMAGES]; /* last: copied as far as nimages */
};

struct ig_imgcache;

/* A cache of 2^slots_log2 entries (at most). IG_ENOMEM. */
int ig_imgcache_new(struct ig_imgcache **out, unsigned slots_log2);
void ig_imgcache_free(struct ig_imgcache *c);
/* 1 and *out when key has an entry that has not expired at now_ms. */
int ig_imgcache_get(struct ig_imgcache *c, const uint8_t key[IG_CACHE_KEY], int64_t now_ms,
                    struct ig_cache_entry *out);
/* Keeps e (copied), replacing what its slot held. */
void ig_imgcache_put(struct ig_imgcache *c, const struct ig_cache_entry *e);

/* Bytes made from an image, kept in memory by the image's SHA-256: the
 * base64 text of cached images (a hit asking for base64 is answered
 * without the disk) and images' thumbnails (made once, not per view). At
 * most max_bytes in all, one entry at most a quarter of that (a
 * direct-mapped table; a colliding image replaces the other). */
struct ig_bytecache;

int ig_bytecache_new(struct ig_bytecache **out, size_t max_bytes);
void ig_bytecache_free(struct ig_bytecache *c);
/* A malloc'd copy of sha256's bytes (*len their length, NUL-terminated
 * beyond it), or NULL. */
char *ig_bytecache_get(struct ig_bytecache *c, const char *sha256, size_t *len);
/* Keeps a copy of the len bytes at text for sha256 while they fit. */
void ig_bytecache_put(struct ig_bytecache *c, const char *sha256, const char *text, size_t len);

struct ig_flights;
struct ig_flight;

int ig_flights_new(struct ig_flights **out);
void ig_flights_free(struct ig_flights *fs);
/* Joins key's flight: 1 when one is in the air (*out: the caller follows
 * it), 0 when the caller leads a new one (*out: its flight, to land).
 * IG_ENOMEM (negative) when neither. Either way the caller holds *out
 * until ig_flight_release. */
int ig_flights_join(struct ig_flights *fs, const uint8_t key[IG_CACHE_KEY], struct ig_flight **out);
/* The leader lands f with what its generation made (NULL: it failed); no
 * one joins f afterwards. */
void ig_flight_land(struct ig_flights *fs, struct ig_flight *f, const struct ig_cache_entry *e);
/* 0 while f is in the air; 1 once landed, with *out its entry (1) or
 * nothing (it failed: *ok 0). */
int ig_flight_landed(struct ig_flight *f, struct ig_cache_entry *out, int *ok);
void ig_flight_release(struct ig_flights *fs, struct ig_flight *f);
/* Flights in the air (for tests). */
int ig_flights_count(struct ig_flights *fs);

#endif
