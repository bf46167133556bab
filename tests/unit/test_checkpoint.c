/* The background checkpointer (store/checkpoint.c) against a real SQLite
 * database in WAL mode: its thread copies the WAL into the database, and
 * the WAL keeps starting again instead of growing with every commit. */
#include "store/checkpoint.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES       8
#define COMMITS     500
#define FRAME_BYTES (4096 + 24)

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

Test(checkpoint, copies_the_wal_off_the_commit_path_and_keeps_it_bounded)
{
    char dir[] = "/tmp/ig-ckpt-XXXXXX", path[64], wal[80];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                              "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    long db_before = file_size(path);
    pthread_mutex_t writers = PTHREAD_MUTEX_INITIALIZER;
    struct ig_checkpointer *c;
    cr_assert_eq(ig_checkpointer_start(&c, db, &writers, path, PAGES), 0);
    sqlite3_stmt *st;
    cr_assert_eq(
        sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (randomblob(1500))", -1, &st, NULL),
        SQLITE_OK);
    long wal_max = 0;
    int waits = 0; /* 2 ms each, at most 2 s in all: a broken thread still fails fast */
    for (int i = 0; i < COMMITS; i++) { /* each its own transaction */
        pthread_mutex_lock(&writers);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
        pthread_mutex_unlock(&writers);
        long w = file_size(wal);
        /* The file grows only while the WAL has not started again: past
         * twice the point where the thread restarts it, the thread has not
         * been scheduled (a loaded machine, a sanitizer build), so it is
         * given the CPU, up to 200 ms, rather than the scheduler measured. */
        long runs = ig_checkpointer_runs(c);
        for (int k = 0; w > wal_max && w > 8 * PAGES * FRAME_BYTES && k < 100 && waits < 1000 &&
                        ig_checkpointer_runs(c) == runs;
             k++, waits++)
            usleep(2000);
        wal_max = w > wal_max ? w : wal_max;
        if (i % 10 == 0)
            usleep(1000); /* let the thread run on a busy machine */
    }
    for (int i = 0; i < 500 && ig_checkpointer_runs(c) == 0; i++)
        usleep(10000);
    cr_assert_gt(ig_checkpointer_runs(c), 0, "the thread copied frames");
    /* Every commit appends at least one frame: without checkpoints the WAL
     * would hold 500 or more (the hook replaced SQLite's automatic
     * checkpoint). It restarts about every 4 * PAGES frames; a slow machine
     * may let it run longer, never to half the total. */
    cr_assert_lt(wal_max, COMMITS / 2 * FRAME_BYTES, "the WAL started again (largest %ld bytes)",
                 wal_max);
    cr_assert_gt(file_size(path), db_before + 100 * 1500, "rows reached the database file");
    sqlite3_finalize(st);
    ig_checkpointer_stop(c);
    sqlite3_stmt *count;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &count, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(count), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(count, 0), COMMITS, "no row lost");
    sqlite3_finalize(count);
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
    unlink(wal);
    char shm[80];
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(shm);
    unlink(path);
    rmdir(dir);
}

Test(checkpoint, stop_accepts_null)
{
    ig_checkpointer_stop(NULL);
}
