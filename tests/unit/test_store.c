#include "store/store.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char path[96];

static void setup(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/igstoreXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/test.db", dir);
}

TestSuite(store, .init = setup);

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
    cr_assert_eq(ig_store_key_revoke(s, "key_a", 5000), 0);
    cr_assert_eq(ig_store_key_revoke(s, "key_a", 5001), IG_ENOTFOUND, "already revoked");
    cr_assert_eq(ig_store_key_revoke(s, "key_zz", 5001), IG_ENOTFOUND);
    cr_assert_eq(ig_store_key_find_by_id(s, "key_a", &got), 0);
    cr_assert_eq(got.revoked_at, 5000);
    int n = 0;
    cr_assert_eq(ig_store_key_list(s, count, &n), 0);
    cr_assert_eq(n, 2);
    ig_store_close(s);
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
    cr_assert_eq(ig_store_generation_insert(s, &g, im, 2), 0);
    cr_assert_eq(ig_store_generation_insert(s, &g, im, 2), IG_EDB, "duplicate id rolls back");
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

    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 1);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    sqlite3_step(st);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
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
