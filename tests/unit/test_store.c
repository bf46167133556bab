#include "store/jobs.h"
#include "store/keys.h"
#include "store/store.h"
#include "util/embed.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char path[96];

static void setup(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/igstoreXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
}

TestSuite(store, .init = setup);

/* The answer of a count query, read from the file through a connection of
 * its own (what another process would see). */
static int file_count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The first column of the first row of a query, as text, through a
 * connection of its own; "" for NULL. */
static void file_text(const char *sql, char *out, size_t size)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, size, "%s", t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static struct ig_key_record key(const char *id, uint8_t fill)
{
    struct ig_key_record k;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "%s", id);
    snprintf(k.name, sizeof k.name, "name-%s", id);
    snprintf(k.prefix, sizeof k.prefix, "ig_abcd");
    memset(k.hash, fill, 32);
    k.scopes = IG_SCOPE_GENERATE;
    k.created_at = 1000 + fill;
    return k;
}

static int count(const struct ig_key_record *k, void *ud)
{
    (void)k;
    ++*(int *)ud;
    return 0;
}

Test(store, keys_insert_find_revoke)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct ig_key_record a = key("key_a", 1), b = key("key_b", 2), got;
    cr_assert_eq(ig_store_key_insert(s, &a), 0);
    cr_assert_eq(ig_store_key_insert(s, &b), 0);
    cr_assert_eq(ig_store_key_insert(s, &a), IG_EEXISTS);
    cr_assert_eq(ig_store_key_find_by_hash(s, b.hash, &got), 0);
    cr_assert_str_eq(got.id, "key_b");
    cr_assert_eq(got.scopes, IG_SCOPE_GENERATE);
    cr_assert_eq(got.revoked_at, 0);
    uint8_t none[32] = {9};
    cr_assert_eq(ig_store_key_find_by_hash(s, none, &got), IG_ENOTFOUND);
    cr_assert_eq(ig_key_revoke(s, "key_a", 5000), 0);
    cr_assert_eq(ig_key_revoke(s, "key_a", 5001), IG_ENOTFOUND, "already revoked");
    cr_assert_eq(ig_key_revoke(s, "key_zz", 5001), IG_ENOTFOUND);
    cr_assert_eq(ig_store_key_find_by_id(s, "key_a", &got), 0);
    cr_assert_eq(got.revoked_at, 5000);
    int n = 0;
    cr_assert_eq(ig_store_key_list(s, count, &n), 0);
    cr_assert_eq(n, 2);
    ig_store_close(s);
}

static int revoke_then(struct ig_store_tx *tx, void *ud)
{
    cr_assert_eq(ig_store_tx_key_revoke(tx, "key_a", 7000), 0);
    struct ig_key_record got;
    cr_assert_eq(ig_store_tx_key_find_by_id(tx, "key_a", &got), 0);
    cr_assert_eq(got.revoked_at, 7000, "the transaction sees its own write");
    return *(int *)ud;
}

/* A transaction's writes commit when its body returns 0 and are rolled
 * back, every one of them, when it returns an error. */
Test(store, transact_commits_or_rolls_back)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct ig_key_record a = key("key_a", 1), got;
    cr_assert_eq(ig_store_key_insert(s, &a), 0);
    int verdict = IG_EINVAL;
    cr_assert_eq(ig_store_transact(s, revoke_then, &verdict), IG_EINVAL);
    cr_assert_eq(ig_store_key_find_by_id(s, "key_a", &got), 0);
    cr_assert_eq(got.revoked_at, 0, "rolled back");
    cr_assert_eq(file_count("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"), 1);
    verdict = 0;
    cr_assert_eq(ig_store_transact(s, revoke_then, &verdict), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM api_keys WHERE revoked_at = 7000"), 1);
    ig_store_close(s);
}

/* The last live admin key cannot be revoked; a key without the admin scope
 * always can, and so can an admin key while another admin key lives. */
Test(store, last_admin_key_is_kept)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct ig_key_record admin1 = key("key_admin1", 1), admin2 = key("key_admin2", 2),
                         user = key("key_user", 3), got;
    admin1.scopes = IG_SCOPE_ADMIN | IG_SCOPE_GENERATE;
    admin2.scopes = IG_SCOPE_ADMIN;
    cr_assert_eq(ig_store_key_insert(s, &admin1), 0);
    cr_assert_eq(ig_store_key_insert(s, &admin2), 0);
    cr_assert_eq(ig_store_key_insert(s, &user), 0);
    cr_assert_eq(ig_key_revoke(s, "key_admin1", 10), 0, "another admin key lives");
    cr_assert_eq(ig_key_revoke(s, "key_admin2", 11), IG_ECONFLICT, "the last one");
    cr_assert_eq(ig_store_key_find_by_id(s, "key_admin2", &got), 0);
    cr_assert_eq(got.revoked_at, 0);
    cr_assert_eq(ig_key_revoke(s, "key_user", 12), 0, "not an admin key");
    cr_assert_eq(ig_key_revoke(s, "key_admin1", 13), IG_ENOTFOUND, "already revoked");
    ig_store_close(s);
}

struct revoker {
    struct ig_store *s;
    const char *id;
    pthread_barrier_t *start;
    int rc;
};

static void *revoke_thread(void *p)
{
    struct revoker *r = p;
    pthread_barrier_wait(r->start);
    r->rc = ig_key_revoke(r->s, r->id, 20);
    return NULL;
}

/* Two admins revoking each other's keys at the same moment: the check and
 * the write are one transaction, so exactly one succeeds, from two
 * connections as from two processes. */
Test(store, concurrent_admin_revocations_leave_one)
{
    for (int round = 0; round < 20; round++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/tmp/igstoreXXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/test.db", dir);
        struct ig_store *s1, *s2;
        cr_assert_eq(ig_store_open_sqlite(&s1, path), 0);
        cr_assert_eq(ig_store_open_sqlite(&s2, path), 0);
        struct ig_key_record a = key("key_a", 1), b = key("key_b", 2);
        a.scopes = b.scopes = IG_SCOPE_ADMIN;
        cr_assert_eq(ig_store_key_insert(s1, &a), 0);
        cr_assert_eq(ig_store_key_insert(s1, &b), 0);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 2);
        struct revoker r1 = {s1, "key_a", &start, 1}, r2 = {s2, "key_b", &start, 1};
        pthread_t t1, t2;
        pthread_create(&t1, NULL, revoke_thread, &r1);
        pthread_create(&t2, NULL, revoke_thread, &r2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        pthread_barrier_destroy(&start);
        cr_assert((r1.rc == 0 && r2.rc == IG_ECONFLICT) || (r1.rc == IG_ECONFLICT && r2.rc == 0),
                  "round %d: %d %d", round, r1.rc, r2.rc);
        cr_assert_eq(file_count("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"), 1);
        ig_store_close(s1);
        ig_store_close(s2);
    }
}

Test(store, generations_and_reopen_keeps_data)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct ig_generation_record g;
    memset(&g, 0, sizeof g);
    snprintf(g.id, sizeof g.id, "gen_1");
    snprintf(g.model, sizeof g.model, "local/procedural");
    snprintf(g.provider, sizeof g.provider, "local");
    g.prompt = "p";
    g.params_json = "{}";
    g.n = 2;
    g.width = g.height = 64;
    g.status = "succeeded";
    g.created_ms = 1;
    g.completed_ms = 2;
    struct ig_image_record im[2];
    memset(im, 0, sizeof im);
    for (int i = 0; i < 2; i++) {
        im[i].index = i;
        snprintf(im[i].sha256, sizeof im[i].sha256, "%064d", 0); /* same blob twice */
        snprintf(im[i].format, sizeof im[i].format, "png");
        im[i].bytes = 10;
    }
    im[0].seed = 5;
    im[1].seed = -1; /* none */
    struct ig_generation_write w = {.g = &g, .images = im, .nimages = 2};
    cr_assert_eq(ig_store_generation_insert(s, &w, 1), 0);
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(ig_store_generation_insert(s, &w, 1), IG_EDB, "duplicate id rolls back");
    cr_assert_eq(w.rc, IG_EDB);
    ig_store_close(s);

    /* Reopen: migrations are not re-applied, data is there. */
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    int64_t n;
    cr_assert_eq(ig_store_generation_count(s, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ig_store_blob_known(s, im[0].sha256), 1);
    cr_assert_eq(ig_store_blob_known(s, "ff"), 0);
    cr_assert_eq(ig_store_ping(s), 0);
    ig_store_close(s);

    cr_assert_eq(file_count("SELECT count(*) FROM schema_migrations"), 16);
    /* The images in the generation's row, in order (migration 0002). */
    char images[512], want[512];
    file_text("SELECT images FROM generations WHERE id = 'gen_1'", images, sizeof images);
    snprintf(want, sizeof want,
             "[{\"sha256\":\"%064d\",\"seed\":5},{\"sha256\":\"%064d\",\"seed\":null}]", 0, 0);
    cr_assert_str_eq(images, want);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    sqlite3_step(st);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A generation record with one image, id "gen_<n>". */
struct gen {
    struct ig_generation_record g;
    struct ig_image_record im;
    struct ig_generation_write w;
};

static void gen_init(struct gen *x, const char *id)
{
    memset(x, 0, sizeof *x);
    snprintf(x->g.id, sizeof x->g.id, "%s", id);
    snprintf(x->g.model, sizeof x->g.model, "m");
    snprintf(x->g.provider, sizeof x->g.provider, "p");
    x->g.n = 1;
    x->g.status = "succeeded";
    snprintf(x->im.sha256, sizeof x->im.sha256, "%064d", 7);
    snprintf(x->im.format, sizeof x->im.format, "png");
    x->w = (struct ig_generation_write){.g = &x->g, .images = &x->im, .nimages = 1};
}

/* A usage report reads while a record is written beside it. */
struct beside {
    struct ig_store *s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int reading, written, written_while_reading;
    int64_t rows;
};

static void *write_when_reading(void *p)
{
    struct beside *b = p;
    pthread_mutex_lock(&b->lock);
    while (!b->reading)
        pthread_cond_wait(&b->cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
    struct gen x;
    gen_init(&x, "gen_beside");
    int rc = ig_store_generation_insert(b->s, &x.w, 1);
    pthread_mutex_lock(&b->lock);
    b->written = rc == 0 && x.w.rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Like write_when_reading, but looks at a job (one that is not there):
 * a page's read beside a report's. */
static void *look_when_reading(void *p)
{
    struct beside *b = p;
    pthread_mutex_lock(&b->lock);
    while (!b->reading)
        pthread_cond_wait(&b->cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
    struct ig_job_record j;
    int rc = ig_store_job_find(b->s, "acct_x", "job_none", &j);
    pthread_mutex_lock(&b->lock);
    b->written = rc == IG_ENOTFOUND ? 1 : -1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* On a read's first row: lets the writer go and waits (10 s at most) for
 * its record, noting whether it came while the read was still open. */
static void wait_for_the_writer(struct beside *b)
{
    pthread_mutex_lock(&b->lock);
    if (!b->reading) {
        b->reading = 1;
        pthread_cond_broadcast(&b->cond);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        while (!b->written && pthread_cond_timedwait(&b->cond, &b->lock, &until) == 0)
            ;
        b->written_while_reading = b->written;
    }
    pthread_mutex_unlock(&b->lock);
}

static int usage_waits_for_the_writer(const struct ig_usage_row *r, void *ud)
{
    struct beside *b = ud;
    b->rows += r->generations;
    wait_for_the_writer(b);
    return 0;
}

static int history_waits_for_the_writer(const struct ig_history_row *r, void *ud)
{
    (void)r;
    struct beside *b = ud;
    b->rows++;
    wait_for_the_writer(b);
    return 0;
}

Test(store, a_usage_report_holds_up_no_record)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    for (int i = 0; i < 3; i++) {
        struct gen x;
        char id[32];
        snprintf(id, sizeof id, "gen_%d", i);
        gen_init(&x, id);
        cr_assert_eq(ig_store_generation_insert(s, &x.w, 1), 0);
    }
    struct beside b = {.s = s};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, write_when_reading, &b), 0);
    cr_assert_eq(
        ig_store_usage(s, NULL, 0, INT64_MAX, IG_USAGE_ALL, usage_waits_for_the_writer, &b), 0);
    pthread_join(th, NULL);
    cr_assert_eq(b.written_while_reading, 1, "the record waited for the report to end");
    cr_assert_eq(b.rows, 3, "the report read its snapshot");
    b.rows = 0;
    b.reading = 1; /* no waiting this time */
    cr_assert_eq(
        ig_store_usage(s, NULL, 0, INT64_MAX, IG_USAGE_ALL, usage_waits_for_the_writer, &b), 0);
    cr_assert_eq(b.rows, 4, "and the next report sees the record");
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    ig_store_close(s);
}

Test(store, a_usage_report_holds_up_no_look_at_a_job)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct gen x;
    gen_init(&x, "gen_0");
    cr_assert_eq(ig_store_generation_insert(s, &x.w, 1), 0);
    struct beside b = {.s = s};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, look_when_reading, &b), 0);
    cr_assert_eq(
        ig_store_usage(s, NULL, 0, INT64_MAX, IG_USAGE_ALL, usage_waits_for_the_writer, &b), 0);
    pthread_join(th, NULL);
    cr_assert_eq(b.written_while_reading, 1, "the look waited for the report to end");
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    ig_store_close(s);
}

Test(store, a_page_of_history_holds_up_no_record)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    for (int i = 0; i < 3; i++) {
        struct gen x;
        char id[32];
        snprintf(id, sizeof id, "gen_%d", i);
        gen_init(&x, id);
        snprintf(x.g.account_id, sizeof x.g.account_id, "acct_h");
        cr_assert_eq(ig_store_generation_insert(s, &x.w, 1), 0);
    }
    struct beside b = {.s = s};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, write_when_reading, &b), 0);
    struct ig_history_query q = {.account_id = "acct_h", .model = "m", .limit = 10};
    cr_assert_eq(ig_store_generation_history(s, &q, history_waits_for_the_writer, &b), 0);
    pthread_join(th, NULL);
    cr_assert_eq(b.written_while_reading, 1, "the record waited for the page to end");
    cr_assert_eq(b.rows, 3);
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    ig_store_close(s);
}

Test(store, a_bad_write_in_a_batch_fails_alone)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct gen first;
    gen_init(&first, "gen_dup");
    cr_assert_eq(ig_store_generation_insert(s, &first.w, 1), 0);
    struct gen x[3];
    gen_init(&x[0], "gen_a");
    gen_init(&x[1], "gen_dup"); /* already there: a constraint failure */
    gen_init(&x[2], "gen_b");
    struct ig_generation_write w[3] = {x[0].w, x[1].w, x[2].w};
    cr_assert_eq(ig_store_generation_insert(s, w, 3), IG_EDB);
    cr_assert_eq(w[0].rc, 0);
    cr_assert_eq(w[1].rc, IG_EDB);
    cr_assert_eq(w[2].rc, 0);
    int64_t n;
    cr_assert_eq(ig_store_generation_count(s, &n), 0);
    cr_assert_eq(n, 3, "gen_dup once, gen_a and gen_b");
    ig_store_close(s);
}

Test(store, a_busy_database_fails_a_batch_at_once, .timeout = 60)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    /* Another connection holds the write lock past busy_timeout (5 s). */
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct gen x[3];
    gen_init(&x[0], "gen_x");
    gen_init(&x[1], "gen_y");
    gen_init(&x[2], "gen_z");
    struct ig_generation_write w[3] = {x[0].w, x[1].w, x[2].w};
    time_t t0 = time(NULL);
    cr_assert_eq(ig_store_generation_insert(s, w, 3), IG_EDB);
    cr_assert_lt(time(NULL) - t0, 12, "one wait for the lock, not one per write");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w[i].rc, IG_EDB);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    cr_assert_eq(ig_store_generation_insert(s, w, 3), 0, "recorded once the lock is free");
    ig_store_close(s);
}

#define THREADS    8
#define PER_THREAD 150

struct writer {
    struct ig_store *s;
    int t;
    int failures;
};

static void *write_many(void *p)
{
    struct writer *wr = p;
    for (int i = 0; i < PER_THREAD; i++) {
        struct gen x;
        char id[32];
        snprintf(id, sizeof id, "gen_%d_%d", wr->t, i);
        gen_init(&x, id);
        if (ig_store_generation_insert(wr->s, &x.w, 1) || x.w.rc)
            wr->failures++;
    }
    return NULL;
}

Test(store, concurrent_writers_share_commits_and_lose_nothing)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    pthread_t th[THREADS];
    struct writer wr[THREADS];
    for (int t = 0; t < THREADS; t++) {
        wr[t] = (struct writer){.s = s, .t = t};
        cr_assert_eq(pthread_create(&th[t], NULL, write_many, &wr[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(wr[t].failures, 0, "writer %d", t);
    }
    int64_t n;
    cr_assert_eq(ig_store_generation_count(s, &n), 0);
    cr_assert_eq(n, THREADS * PER_THREAD);
    ig_store_close(s);

    /* Every row and its image are really in the file. */
    cr_assert_eq(file_count("SELECT count(*) FROM generations, json_each(images)"),
                 THREADS * PER_THREAD);
}

/* Closes db, written by hand as an older version left it, and opens it as
 * the store, which applies the migrations it lacks. */
static void close_and_migrate(sqlite3 *db)
{
    sqlite3_close(db);
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    ig_store_close(s);
}

/* A database written before migration 0002 (images as rows of their own)
 * keeps every image, in order, when the store opens it. */
Test(store, images_rows_move_into_their_generation)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_str_eq(ig_migrations[0].name, "0001_init.sql");
    cr_assert_eq(sqlite3_exec(db, ig_migrations[0].data, NULL, NULL, NULL), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(
            db,
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at INTEGER NOT NULL);"
            "INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0);"
            "INSERT INTO generations (id, model, provider, prompt, params, n, width, height, "
            "status, created_at) VALUES ('gen_two', 'm', 'p', 'x', '{}', 2, 8, 8, 'succeeded', 1),"
            "('gen_failed', 'm', 'p', 'x', '{}', 1, 8, 8, 'failed', 2);"
            "INSERT INTO blobs VALUES ('aa', 'png', 1, 8, 8, 1), ('bb', 'png', 1, 8, 8, 1);"
            "INSERT INTO images VALUES ('gen_two', 1, 'bb', -1), ('gen_two', 0, 'aa', 7);",
            NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    close_and_migrate(db);
    char images[256];
    file_text("SELECT images FROM generations WHERE id = 'gen_two'", images, sizeof images);
    cr_assert_str_eq(images, "[{\"sha256\":\"aa\",\"seed\":7},{\"sha256\":\"bb\",\"seed\":null}]");
    file_text("SELECT images FROM generations WHERE id = 'gen_failed'", images, sizeof images);
    cr_assert_str_eq(images, "[]");
    cr_assert_eq(file_count("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'images%'"), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM blobs"), 2, "blobs are kept");
    cr_assert_eq(file_count("SELECT max(version) FROM schema_migrations"), 16);
}

/* A database with batches queued and running, holds open and a
 * delivery waiting for a disabled endpoint before migrations 0013, 0015
 * and 0016 starts with the counts its jobs give, the totals its holds
 * give, and that delivery disabled. */
Test(store, kept_counts_start_from_the_rows)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                              "name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    int version = 0;
    for (const struct ig_embedded_file *m = ig_migrations; m->name; m++) {
        if (strncmp(m->name, "0013", 4) == 0)
            break;
        cr_assert_eq(sqlite3_exec(db, m->data, NULL, NULL, NULL), SQLITE_OK, "%s: %s", m->name,
                     sqlite3_errmsg(db));
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, '%s', 0)", ++version,
                 m->name);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    cr_assert_eq(version, 12);
    cr_assert_eq(
        sqlite3_exec(db,
                     "INSERT INTO accounts (id, name, tier, balance, metered, created_at) "
                     "VALUES ('acct', 'a', 'managed', 0, 1, 0);"
                     "INSERT INTO holds (id, account_id, amount, created_at, settled_at) "
                     "VALUES ('h1', 'acct', 700, 1, NULL), ('h2', 'acct', 50, 1, NULL), "
                     "('h3', 'acct', 9000, 1, 5);"
                     "INSERT INTO webhook_endpoints_disabled VALUES ('acct', 'http://g', 7);"
                     "INSERT INTO webhook_deliveries (id, account_id, event_type, url, "
                     "payload, status, next_attempt_ms, created_ms) VALUES ('msg_g', "
                     "'acct', 'e', 'http://g', '{}', 'pending', 9, 1);",
                     NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(
        sqlite3_exec(db,
                     "INSERT INTO batches (id, account_id, max_concurrency, total, created_ms) "
                     "VALUES ('batch_1', 'acct', 2, 4, 1);"
                     "INSERT INTO jobs (id, account_id, key_id, status, request, base_url, "
                     "request_id, created_ms, batch_id, batch_index) VALUES "
                     "('j0', 'acct', 'k', 'succeeded', '{}', 'x', 'r', 1, 'batch_1', 0),"
                     "('j1', 'acct', 'k', 'running', '{}', 'x', 'r', 1, 'batch_1', 1),"
                     "('j2', 'acct', 'k', 'queued', '{}', 'x', 'r', 1, 'batch_1', 2),"
                     "('j3', 'acct', 'k', 'queued', '{}', 'x', 'r', 1, 'batch_1', 3);",
                     NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    close_and_migrate(db);
    cr_assert_eq(file_count("SELECT queued FROM batches WHERE id = 'batch_1'"), 2);
    cr_assert_eq(file_count("SELECT running FROM batches WHERE id = 'batch_1'"), 1);
    cr_assert_eq(file_count("SELECT held FROM accounts WHERE id = 'acct'"), 750,
                 "migration 0015: the open holds' sum");
    cr_assert_eq(file_count("SELECT count(*) FROM webhook_deliveries WHERE id = 'msg_g' AND "
                            "status = 'disabled' AND finished_ms = 7"),
                 1, "migration 0016: what waited for a disabled endpoint");
}

/* Claims (account "a", key) at now_ms, kept ttl_ms: the claim's rc. */
static int idem_claim_at(struct ig_store *s, const char *key, int64_t now_ms, int64_t ttl_ms)
{
    struct ig_idem_claim c = {
        .account_id = "a", .key = key, .now_ms = now_ms, .lock_ms = 1000, .ttl_ms = ttl_ms};
    struct ig_idem_found found;
    memset(&found, 0, sizeof found);
    int rc = ig_store_idem_claim(s, &c, &found);
    ig_idem_found_release(&found);
    return rc;
}

/* Answers past their day are deleted by the claims that come after them,
 * two at a time, the oldest first; answers still kept are never touched. */
Test(store, expired_idempotency_answers_are_forgotten)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    char key[32];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "old_%d", i);
        cr_assert_eq(idem_claim_at(s, key, 1000 + i, 100), 0);
        cr_assert_eq(ig_store_idem_finish(s, "a", key, 200, "application/json", "", "{}", 2), 0);
    }
    cr_assert_eq(idem_claim_at(s, "kept", 1050, 100000), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency"), 6, "none expired yet");
    cr_assert_eq(idem_claim_at(s, "new_0", 5000, 100000), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency"), 5, "one in, two out");
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency WHERE key IN ('old_0', 'old_1')"), 0,
                 "the oldest first");
    cr_assert_eq(idem_claim_at(s, "new_1", 5001, 100000), 0);
    cr_assert_eq(idem_claim_at(s, "new_2", 5002, 100000), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency WHERE key LIKE 'old_%'"), 0);
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency WHERE key = 'kept'"), 1,
                 "an answer within its time stays");
    cr_assert_eq(file_count("SELECT count(*) FROM idempotency"), 4);
    /* A key claimed again after its time reuses its row, as before. */
    cr_assert_eq(idem_claim_at(s, "new_0", 200000, 100), 0);
    ig_store_close(s);
}

struct delivery {
    const char *id, *url;
};

static int enqueue_body(struct ig_store_tx *tx, void *ud)
{
    const struct delivery *d = ud;
    struct ig_webhook_record w = {.created_ms = 100};
    snprintf(w.id, sizeof w.id, "%s", d->id);
    snprintf(w.account_id, sizeof w.account_id, "acct_w");
    snprintf(w.event_type, sizeof w.event_type, "image.generation.succeeded");
    return ig_store_tx_webhook_enqueue(tx, &w, d->url, "{}");
}

static void enqueue(struct ig_store *s, const char *id, const char *url)
{
    struct delivery d = {id, url};
    cr_assert_eq(ig_store_transact(s, enqueue_body, &d), 0);
}

static int claimed_cb(const struct ig_webhook_record *w, void *ud)
{
    char *ids = ud;
    strcat(ids, w->id);
    strcat(ids, " ");
    return 0;
}

/* An endpoint disabled (it answered 410) disables what waits for it and
 * what is written for it afterwards: the claims never see them. */
Test(store, a_disabled_endpoint_gets_nothing_more)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    enqueue(s, "msg_1", "http://gone.example/hook");
    enqueue(s, "msg_2", "http://gone.example/hook");
    enqueue(s, "msg_3", "http://kept.example/hook");
    cr_assert_eq(ig_store_webhook_disable_endpoint(s, "acct_w", "http://gone.example/hook", 200),
                 0);
    cr_assert_eq(file_count("SELECT count(*) FROM webhook_deliveries WHERE status = 'disabled' AND "
                            "finished_ms = 200 AND url = 'http://gone.example/hook'"),
                 2);
    enqueue(s, "msg_4", "http://gone.example/hook");
    cr_assert_eq(file_count("SELECT count(*) FROM webhook_deliveries WHERE id = 'msg_4' AND "
                            "status = 'disabled' AND attempts = 0"),
                 1, "written disabled");
    char ids[256] = "";
    cr_assert_eq(ig_store_webhook_claim(s, "run_w", 1000, 5000, 10, claimed_cb, ids), 0);
    cr_assert_str_eq(ids, "msg_3 ", "only the endpoint still enabled");
    ig_store_close(s);
}

Test(store, scopes_text)
{
    unsigned s;
    char out[64];
    cr_assert_eq(ig_scopes_parse("generate,admin", &s), 0);
    cr_assert_eq(s, IG_SCOPE_GENERATE | IG_SCOPE_ADMIN);
    ig_scopes_format(s, out, sizeof out);
    cr_assert_str_eq(out, "generate,admin");
    cr_assert_neq(ig_scopes_parse("root", &s), 0);
    cr_assert_neq(ig_scopes_parse("generate,,", &s), 0);
}

Test(store, opened_from_a_url)
{
    char dir[64], url[128], err[256];
    snprintf(dir, sizeof dir, "/tmp/igurlXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    struct ig_store *s = NULL;
    snprintf(url, sizeof url, "sqlite:%s/a.db", dir);
    cr_assert_eq(ig_store_open(url, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ig_store_ping(s), 0);
    ig_store_close(s);
    snprintf(url, sizeof url, "%s/b.db", dir);
    cr_assert_eq(ig_store_open(url, &s, err, sizeof err), 0, "a bare path is sqlite: %s", err);
    ig_store_close(s);
    err[0] = '\0';
    cr_assert_eq(ig_store_open("postgres://u@db/imagegate", &s, err, sizeof err), IG_ECONFIG);
    cr_assert(strstr(err, "not built in yet"), "%s", err);
    cr_assert_eq(ig_store_open("ftp://x/y", &s, err, sizeof err), IG_ECONFIG);
    cr_assert(strstr(err, "unknown kind of store"), "%s", err);
    cr_assert_eq(ig_store_open("sqlite:", &s, err, sizeof err), IG_ECONFIG);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* What a write's `also` does commits with its generation or not at all. */
static int also_calls;
static struct ig_store_tx *also_tx;

static int also_ok(struct ig_store_tx *tx, void *ud)
{
    (void)ud;
    also_calls++;
    also_tx = tx;
    return tx ? 0 : -1;
}

static int also_refuses(struct ig_store_tx *tx, void *ud)
{
    (void)tx;
    (void)ud;
    also_calls++;
    return -1;
}

Test(store, writes_that_commit_with_a_generation)
{
    struct ig_store *s;
    cr_assert_eq(ig_store_open_sqlite(&s, path), 0);
    struct gen x[3];
    gen_init(&x[0], "gen_with");
    gen_init(&x[1], "gen_refused");
    gen_init(&x[2], "gen_plain");
    x[0].w.also = also_ok;
    x[1].w.also = also_refuses;
    struct ig_generation_write w[3] = {x[0].w, x[1].w, x[2].w};
    also_calls = 0;
    cr_assert_eq(ig_store_generation_insert(s, w, 3), IG_EDB);
    cr_assert_eq(w[0].rc, 0);
    cr_assert_eq(w[1].rc, IG_EDB, "a refusing also refuses its write");
    cr_assert_eq(w[2].rc, 0);
    cr_assert_not_null(also_tx, "also runs with the transaction");
    /* Batch (ok, refused: rolled back), then each alone: ok, refused. */
    cr_assert_eq(also_calls, 4);
    int64_t n;
    cr_assert_eq(ig_store_generation_count(s, &n), 0);
    cr_assert_eq(n, 2, "the refused generation is not recorded");
    ig_store_close(s);
    cr_assert_eq(file_count("SELECT count(*) FROM generations WHERE id = 'gen_refused'"), 0);
}
