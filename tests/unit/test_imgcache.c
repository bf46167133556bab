/* test_imgcache.c — the exact cache keeps an entry until it expires and
 * gives back exactly what was put (images past the count are not read);
 * a flight has one leader, its followers see what it lands with (or that
 * it failed), and it leaves the table when it lands, also with threads
 * joining at once. */
#include "core/imgcache.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

static void key_of(uint8_t key[IG_CACHE_KEY], int n)
{
    memset(key, 0, IG_CACHE_KEY);
    key[0] = (uint8_t)n;
    key[31] = (uint8_t)(n >> 8);
}

Test(imgcache, keeps_entries_until_they_expire)
{
    struct ig_imgcache *c;
    cr_assert_eq(ig_imgcache_new(&c, 4), 0);
    struct ig_cache_entry e, got;
    memset(&e, 0, sizeof e);
    key_of(e.key, 1);
    strcpy(e.generation_id, "gen_1");
    e.nimages = 2;
    strcpy(e.images[1].sha256, "ab");
    e.images[1].seed = 9;
    e.expires_ms = 1000;
    ig_imgcache_put(c, &e);
    cr_assert_eq(ig_imgcache_get(c, e.key, 999, &got), 1);
    cr_assert_str_eq(got.generation_id, "gen_1");
    cr_assert_eq(got.nimages, 2);
    cr_assert_str_eq(got.images[1].sha256, "ab");
    cr_assert_eq(got.images[1].seed, 9);
    cr_assert_eq(got.expires_ms, 1000);
    cr_assert_eq(ig_imgcache_get(c, e.key, 1000, &got), 0, "expired");
    uint8_t other[IG_CACHE_KEY];
    key_of(other, 2);
    cr_assert_eq(ig_imgcache_get(c, other, 0, &got), 0);
    /* A key of the same slot replaces it (16 slots: keys 1 and 17). */
    struct ig_cache_entry f = e;
    key_of(f.key, 17);
    ig_imgcache_put(c, &f);
    cr_assert_eq(ig_imgcache_get(c, e.key, 0, &got), 0);
    cr_assert_eq(ig_imgcache_get(c, f.key, 0, &got), 1);
    e.nimages = 0; /* nothing to serve: not kept */
    key_of(e.key, 3);
    ig_imgcache_put(c, &e);
    cr_assert_eq(ig_imgcache_get(c, e.key, 0, &got), 0);
    ig_imgcache_free(c);
}

Test(imgcache, a_flight_has_one_leader)
{
    struct ig_flights *fs;
    cr_assert_eq(ig_flights_new(&fs), 0);
    uint8_t key[IG_CACHE_KEY];
    key_of(key, 5);
    struct ig_flight *lead, *follow, *late;
    cr_assert_eq(ig_flights_join(fs, key, &lead), 0, "the first leads");
    cr_assert_eq(ig_flights_join(fs, key, &follow), 1, "the next follows");
    cr_assert_eq(follow, lead);
    struct ig_cache_entry got;
    int ok = -1;
    cr_assert_eq(ig_flight_landed(follow, &got, &ok), 0, "in the air");
    struct ig_cache_entry e;
    memset(&e, 0, sizeof e);
    e.nimages = 1;
    strcpy(e.generation_id, "gen_lead");
    ig_flight_land(fs, lead, &e);
    cr_assert_eq(ig_flights_count(fs), 0, "landed: out of the table");
    cr_assert_eq(ig_flights_join(fs, key, &late), 0, "a later one leads a new flight");
    cr_assert_eq(ig_flight_landed(follow, &got, &ok), 1);
    cr_assert_eq(ok, 1);
    cr_assert_str_eq(got.generation_id, "gen_lead");
    ig_flight_release(fs, follow);
    ig_flight_release(fs, lead);
    ig_flight_land(fs, late, NULL); /* it failed */
    cr_assert_eq(ig_flight_landed(late, &got, &ok), 1);
    cr_assert_eq(ok, 0);
    ig_flight_release(fs, late);
    ig_flights_free(fs);
}

static struct ig_flights *shared;
static int leaders;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void *joiner(void *arg)
{
    (void)arg;
    uint8_t key[IG_CACHE_KEY];
    key_of(key, 7);
    struct ig_flight *f;
    int rc = ig_flights_join(shared, key, &f);
    cr_assert_geq(rc, 0);
    if (rc == 0) {
        pthread_mutex_lock(&count_lock);
        leaders++;
        pthread_mutex_unlock(&count_lock);
    }
    return f;
}

Test(imgcache, threads_joining_at_once_have_one_leader)
{
    cr_assert_eq(ig_flights_new(&shared), 0);
    pthread_t t[16];
    for (int i = 0; i < 16; i++)
        pthread_create(&t[i], NULL, joiner, NULL);
    struct ig_flight *f[16];
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], (void **)&f[i]);
    cr_assert_eq(leaders, 1);
    for (int i = 1; i < 16; i++)
        cr_assert_eq(f[i], f[0]);
    ig_flight_land(shared, f[0], NULL);
    for (int i = 0; i < 16; i++)
        ig_flight_release(shared, f[i]);
    ig_flights_free(shared);
}
