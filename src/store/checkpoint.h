/* checkpoint.h — SQLite WAL checkpoints off the commit path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past its threshold: that commit copies the WAL's pages into the database
 * and syncs both files, for milliseconds, while every other write (and,
 * on the store's one connection, every read) waits behind it. At a few
 * thousand generations a second that was most of the gateway's p99.
 *
 * A checkpointer takes the job over: the writer connection's WAL hook
 * notices the WAL growing by `pages` frames and wakes a thread of the
 * checkpointer's own, which runs a PASSIVE checkpoint on a connection of
 * its own: it copies frames into the database and syncs it without
 * waiting for, or blocking, readers and writers. But while writers keep
 * appending, the WAL is never all copied, so it never starts again from
 * its beginning and would grow without end; so once it passes 4 × pages,
 * a pass ends with a second, short one with the writers held (the store's
 * lock), which copies the few frames written meanwhile; the next commit
 * then restarts the WAL. Should the WAL reach 16 × pages anyway (the
 * thread is behind), the committing writer checkpoints itself as SQLite
 * would have. Durability is unchanged: with synchronous=NORMAL a commit
 * was never synced, a checkpoint always is.  */
#ifndef IG_STORE_CHECKPOINT_H
#define IG_STORE_CHECKPOINT_H

#include <pthread.h>
#include <sqlite3.h>

struct ig_checkpointer;

/* Installs the hook on writer (a connection in WAL mode; this replaces its
 * automatic checkpoint) and starts the thread, which opens path itself.
 * writers is the mutex every user of writer holds (the hook runs under
 * it). 0, or IG_E*. */
int ig_checkpointer_start(struct ig_checkpointer **out, sqlite3 *writer, pthread_mutex_t *writers,
                          const char *path, int pages);
/* Stops the thread (a checkpoint under way finishes first), closes its
 * connection and removes the hook. Call before closing writer. NULL is
 * allowed. */
void ig_checkpointer_stop(struct ig_checkpointer *c);
/* Passes of the thread that copied frames into the database (for tests
 * and metrics). */
long ig_checkpointer_runs(struct ig_checkpointer *c);

#endif
