/* imgcache.c — the exact cache and single flights; see imgcache.h. One
 * lock each: an entry is copied in or out under it (a few kilobytes at
 * most), a flight is found or landed under it. */
#include "core/imgcache.h"
#include "util/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct ig_imgcache {
    pthread_mutex_t lock;
    size_t mask;
    struct ig_cache_entry **slot;
};

static size_t slot_of(const uint8_t key[IG_CACHE_KEY], size_t mask)
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* a hash's bytes are uniform already */
    return (size_t)h & mask;
}

/* The bytes of e that matter: its images, not the unused room. */
static size_t entry_size(int nimages)
{
    return offsetof(struct ig_cache_entry, images) +
           (size_t)nimages * sizeof(struct ig_image_record);
}

int ig_imgcache_new(struct ig_imgcache **out, unsigned slots_log2)
{
    struct ig_imgcache *c = calloc(1, sizeof *c);
    if (!c || slots_log2 > 24)
        goto fail;
    c->mask = ((size_t)1 << slots_log2) - 1;
    c->slot = calloc(c->mask + 1, sizeof *c->slot);
    if (!c->slot || pthread_mutex_init(&c->lock, NULL))
        goto fail;
    *out = c;
    return 0;
fail:
    if (c)
        free(c->slot);
    free(c);
    return IG_ENOMEM;
}

void ig_imgcache_free(struct ig_imgcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->slot[i]);
    free(c->slot);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int ig_imgcache_get(struct ig_imgcache *c, const uint8_t key[IG_CACHE_KEY], int64_t now_ms,
                    struct ig_cache_entry *out)
{
    if (!c)
        return 0;
    size_t i = slot_of(key, c->mask);
    int found = 0;
    pthread_mutex_lock(&c->lock);
    const struct ig_cache_entry *e = c->slot[i];
    if (e && memcmp(e->key, key, IG_CACHE_KEY) == 0 && e->expires_ms > now_ms) {
        memcpy(out, e, entry_size(e->nimages));
        found = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void ig_imgcache_put(struct ig_imgcache *c, const struct ig_cache_entry *e)
{
    if (!c || e->nimages < 1 || e->nimages > IG_CACHE_IMAGES)
        return;
    size_t size = entry_size(e->nimages);
    struct ig_cache_entry *copy = malloc(size);
    if (!copy)
        return; /* not cached: the next request asks the provider */
    memcpy(copy, e, size);
    size_t i = slot_of(e->key, c->mask);
    pthread_mutex_lock(&c->lock);
    struct ig_cache_entry *old = c->slot[i];
    c->slot[i] = copy;
    pthread_mutex_unlock(&c->lock);
    free(old);
}

/* ---- flights ---- */

struct ig_flight {
    uint8_t key[IG_CACHE_KEY];
    struct ig_flight *next; /* in the table while in the air */
    int refs;               /* under the table's lock */
    atomic_int landed;
    int ok;
    struct ig_cache_entry entry;
};

#define FLIGHT_BUCKETS 1024

struct ig_flights {
    pthread_mutex_t lock;
    struct ig_flight *bucket[FLIGHT_BUCKETS];
    int count;
};

int ig_flights_new(struct ig_flights **out)
{
    struct ig_flights *fs = calloc(1, sizeof *fs);
    if (!fs || pthread_mutex_init(&fs->lock, NULL)) {
        free(fs);
        return IG_ENOMEM;
    }
    *out = fs;
    return 0;
}

void ig_flights_free(struct ig_flights *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < FLIGHT_BUCKETS; i++) {
        while (fs->bucket[i]) {
            struct ig_flight *f = fs->bucket[i];
            fs->bucket[i] = f->next;
            free(f);
        }
    }
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

int ig_flights_join(struct ig_flights *fs, const uint8_t key[IG_CACHE_KEY], struct ig_flight **out)
{
    size_t b = slot_of(key, FLIGHT_BUCKETS - 1);
    pthread_mutex_lock(&fs->lock);
    for (struct ig_flight *f = fs->bucket[b]; f; f = f->next) {
        if (memcmp(f->key, key, IG_CACHE_KEY) == 0) {
            f->refs++;
            pthread_mutex_unlock(&fs->lock);
            *out = f;
            return 1;
        }
    }
    struct ig_flight *f = calloc(1, sizeof *f);
    if (!f) {
        pthread_mutex_unlock(&fs->lock);
        return IG_ENOMEM;
    }
    memcpy(f->key, key, IG_CACHE_KEY);
    f->refs = 1;
    f->next = fs->bucket[b];
    fs->bucket[b] = f;
    fs->count++;
    pthread_mutex_unlock(&fs->lock);
    *out = f;
    return 0;
}

void ig_flight_land(struct ig_flights *fs, struct ig_flight *f, const struct ig_cache_entry *e)
{
    size_t b = slot_of(f->key, FLIGHT_BUCKETS - 1);
    pthread_mutex_lock(&fs->lock);
    for (struct ig_flight **p = &fs->bucket[b]; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            fs->count--;
            break;
        }
    }
    f->next = NULL;
    if (e) {
        memcpy(&f->entry, e, entry_size(e->nimages));
        f->ok = 1;
    }
    pthread_mutex_unlock(&fs->lock);
    atomic_store(&f->landed, 1); /* after the entry: a follower that sees it sees the entry */
}

int ig_flight_landed(struct ig_flight *f, struct ig_cache_entry *out, int *ok)
{
    if (!atomic_load(&f->landed))
        return 0;
    *ok = f->ok;
    if (f->ok)
        memcpy(out, &f->entry, entry_size(f->entry.nimages));
    return 1;
}

void ig_flight_release(struct ig_flights *fs, struct ig_flight *f)
{
    pthread_mutex_lock(&fs->lock);
    int last = --f->refs == 0;
    pthread_mutex_unlock(&fs->lock);
    if (last)
        free(f);
}

int ig_flights_count(struct ig_flights *fs)
{
    pthread_mutex_lock(&fs->lock);
    int n = fs->count;
    pthread_mutex_unlock(&fs->lock);
    return n;
}

/* ---- base64 of cached images ---- */

#define BYTE_SLOTS 4096

struct byte_slot {
    char sha[65];
    char *text;
    size_t len;
};

struct ig_bytecache {
    pthread_mutex_t lock;
    size_t max_bytes, bytes;
    struct byte_slot slot[BYTE_SLOTS];
};

static size_t byte_slot_of(const char *sha)
{
    size_t h = 0;
    for (int i = 0; i < 8 && sha[i]; i++)
        h = h * 16 + (size_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a' + 10);
    return h % BYTE_SLOTS;
}

int ig_bytecache_new(struct ig_bytecache **out, size_t max_bytes)
{
    struct ig_bytecache *c = calloc(1, sizeof *c);
    if (!c || pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return IG_ENOMEM;
    }
    c->max_bytes = max_bytes;
    *out = c;
    return 0;
}

void ig_bytecache_free(struct ig_bytecache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < BYTE_SLOTS; i++)
        free(c->slot[i].text);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

char *ig_bytecache_get(struct ig_bytecache *c, const char *sha256, size_t *len)
{
    if (!c)
        return NULL;
    struct byte_slot *s = &c->slot[byte_slot_of(sha256)];
    char *copy = NULL;
    pthread_mutex_lock(&c->lock);
    if (s->text && strcmp(s->sha, sha256) == 0 && (copy = malloc(s->len + 1))) {
        memcpy(copy, s->text, s->len + 1);
        *len = s->len;
    }
    pthread_mutex_unlock(&c->lock);
    return copy;
}

void ig_bytecache_put(struct ig_bytecache *c, const char *sha256, const char *text, size_t len)
{
    if (!c || len > c->max_bytes / 4)
        return; /* one image never takes more than a quarter */
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct byte_slot *s = &c->slot[byte_slot_of(sha256)];
    pthread_mutex_lock(&c->lock);
    char *old = s->text;
    size_t after = c->bytes - (old ? s->len : 0) + len;
    if (after > c->max_bytes) {
        pthread_mutex_unlock(&c->lock);
        free(copy); /* full: kept only when something of its slot goes */
        return;
    }
    c->bytes = after;
    s->text = copy;
    s->len = len;
    snprintf(s->sha, sizeof s->sha, "%s", sha256);
    pthread_mutex_unlock(&c->lock);
    free(old);
}
