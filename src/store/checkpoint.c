/* checkpoint.c — see checkpoint.h. */
#include "store/checkpoint.h"
#include "util/err.h"
#include "util/log.h"
#include "util/pool.h"

#include <pthread.h>
#include <stdlib.h>

/* In units of the threshold: the WAL size after which a pass ends with
 * writers held (so the WAL can start again), and the size at which the
 * committing writer checkpoints itself (the thread is behind). */
#define RESTART_AT 4
#define HARD_LIMIT 16

struct ig_checkpointer {
    sqlite3 *writer;
    pthread_mutex_t *writers; /* held by every user of writer */
    sqlite3 *db;              /* the thread's own connection */
    int pages;
    int wal_pages; /* under lock: the WAL's size after the last commit that woke us */
    int woken_at;  /* under lock: the WAL's size when we were last woken */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int wanted;   /* under lock: the WAL passed pages since the last run */
    int stopping; /* under lock */
    long runs;    /* under lock */
};

/* After every commit on the writer, with the WAL's size in pages. */
static int wal_hook(void *ud, sqlite3 *db, const char *schema, int wal_pages)
{
    struct ig_checkpointer *c = ud;
    if (wal_pages >= HARD_LIMIT * c->pages) {
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    pthread_mutex_lock(&c->lock);
    if (wal_pages < c->woken_at) /* the WAL started again from its beginning */
        c->woken_at = 0;
    if (!c->wanted && wal_pages >= c->woken_at + c->pages) {
        c->wanted = 1;
        c->wal_pages = c->woken_at = wal_pages;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return SQLITE_OK;
}

/* One PASSIVE pass on the thread's connection: 1 when it copied frames
 * into the database, else 0. */
static int passive(struct ig_checkpointer *c)
{
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        ig_warn("sqlite: background checkpoint: %s", sqlite3_errmsg(c->db));
    return rc == SQLITE_OK && copied > 0;
}

static void *run(void *arg)
{
    struct ig_checkpointer *c = arg;
    ig_pool_thread_enter(); /* background work, below the loops like the pool */
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->wanted && !c->stopping)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->stopping)
            break;
        c->wanted = 0;
        int wal_pages = c->wal_pages;
        pthread_mutex_unlock(&c->lock);
        int copied = passive(c);
        if (wal_pages >= RESTART_AT * c->pages) {
            /* Writers kept appending while the pass ran, so the WAL is
             * never all copied and never starts again. A short pass with
             * them held copies the rest; the next commit then writes the
             * WAL from its beginning. */
            pthread_mutex_lock(c->writers);
            passive(c);
            pthread_mutex_unlock(c->writers);
        }
        pthread_mutex_lock(&c->lock);
        c->runs += copied;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int ig_checkpointer_start(struct ig_checkpointer **out, sqlite3 *writer, pthread_mutex_t *writers,
                          const char *path, int pages)
{
    struct ig_checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return IG_ENOMEM;
    c->writer = writer;
    c->writers = writers;
    c->pages = pages > 0 ? pages : 1000;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        ig_error("sqlite: checkpointer cannot open '%s': %s", path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return IG_EDB;
    }
    /* A connection learns that the database is in WAL mode when it first
     * reads it; until then a checkpoint on it does nothing. */
    if (sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        ig_error("sqlite: checkpointer cannot read '%s': %s", path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return IG_EDB;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->thread, NULL, run, c)) {
        sqlite3_close(c->db);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return IG_ENOMEM;
    }
    sqlite3_wal_hook(writer, wal_hook, c);
    *out = c;
    return 0;
}

void ig_checkpointer_stop(struct ig_checkpointer *c)
{
    if (!c)
        return;
    sqlite3_wal_hook(c->writer, NULL, NULL);
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

long ig_checkpointer_runs(struct ig_checkpointer *c)
{
    pthread_mutex_lock(&c->lock);
    long n = c->runs;
    pthread_mutex_unlock(&c->lock);
    return n;
}
