/* sqlite_ceiling.c — SQLite's own rate of durable one-row transactions on
 * this machine: the ceiling that durable job submissions (bench/jobs.sh)
 * are measured against.
 *
 * The store's pragmas (WAL, synchronous=NORMAL), a table shaped like the
 * jobs table (the same columns and indexes), one thread, one prepared
 * INSERT, and BEGIN IMMEDIATE … COMMIT around each row: what a server
 * that commits each submission on its own could reach at best, with no
 * network, parsing or accounting in the way.
 * usage: sqlite_ceiling DB_PATH SECONDS — prints rows per second. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DB_PATH SECONDS\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[2]);
    sqlite3 *db;
    check(sqlite3_open(argv[1], &db), db, "open");
    check(sqlite3_exec(db,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                       "CREATE TABLE jobs (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, "
                       "key_id TEXT NOT NULL, status TEXT NOT NULL, request TEXT NOT NULL, "
                       "base_url TEXT NOT NULL, request_id TEXT NOT NULL, webhook_url TEXT, "
                       "hold_id TEXT, held INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT "
                       "NULL, started_ms INTEGER, finished_ms INTEGER, lease_owner TEXT, "
                       "lease_expires_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0, upstream "
                       "TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0, generation_id TEXT, "
                       "error TEXT, batch_id TEXT); "
                       "CREATE INDEX jobs_queued ON jobs (created_ms) WHERE status = 'queued'; "
                       "CREATE INDEX jobs_by_account ON jobs (account_id, created_ms, id);",
                       NULL, NULL, NULL),
          db, "schema");
    sqlite3_stmt *begin, *commit, *insert;
    check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), db, "prepare");
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO jobs (id, account_id, key_id, status, request, "
                             "base_url, request_id, created_ms) VALUES (?, 'acct_bench', "
                             "'key_bench', 'queued', ?, 'http://127.0.0.1:8080', ?, ?)",
                             -1, &insert, NULL),
          db, "prepare");
    const char *body =
        "{\"prompt\":\"a lighthouse at dusk\",\"model\":\"quick\",\"size\":\"64x64\"}";
    long n = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        char id[48], rid[48];
        snprintf(id, sizeof id, "job_%016lx%016lx", (unsigned long)(start * 1e3), (unsigned long)n);
        snprintf(rid, sizeof rid, "req_%ld", n);
        check(sqlite3_step(begin), db, "begin");
        sqlite3_reset(begin);
        sqlite3_bind_text(insert, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, body, -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 3, rid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(insert, 4, (sqlite3_int64)((start + (double)n / 1e6) * 1e3));
        check(sqlite3_step(insert), db, "insert");
        sqlite3_reset(insert);
        check(sqlite3_step(commit), db, "commit");
        sqlite3_reset(commit);
        n++;
    }
    printf("%.0f\n", (double)n / (now() - start));
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return 0;
}
