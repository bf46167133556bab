/* blobs.h — the content-addressed image store on disk.
 *
 * A blob's name is the SHA-256 of its bytes, kept at
 * ROOT/ab/cd/abcd…(64 hex). Writes are atomic (temporary file in ROOT/tmp,
 * fsync, rename, fsync of the directory), so a crash leaves either the whole
 * blob or none; identical bytes are stored once however often they are
 * written. Blocking: call from the thread pool. */
#ifndef IG_BLOBS_H
#define IG_BLOBS_H

#include "util/buf.h"

#include <stddef.h>

/* The interface every blob store has (files today, object storage
 * later): immutable blobs named by the SHA-256 of their bytes. Both calls
 * block (thread pool); both are thread-safe. */
struct ig_blob_store;
struct ig_blob_store_ops {
    /* Stores data under its hash (sha256_hex, 65 bytes, receives it);
     * *created says whether this call stored it (0: already there). */
    int (*put)(struct ig_blob_store *s, const void *data, size_t len, char sha256_hex[65],
               int *created);
    /* Reads a blob into out (bounded by max). IG_ENOTFOUND, IG_EINVAL for
     * a name that is not 64 lower-case hex digits, IG_ETOOBIG. */
    int (*read)(struct ig_blob_store *s, const char *sha256_hex, size_t max, struct ig_buf *out);
};
struct ig_blob_store {
    const struct ig_blob_store_ops *ops;
};
#define ig_blob_put(s, d, n, sha, created) ((s)->ops->put((s), (d), (n), (sha), (created)))
#define ig_blob_read(s, sha, max, out)     ((s)->ops->read((s), (sha), (max), (out)))

/* The files backend: base is its interface. */
struct ig_blobs {
    struct ig_blob_store base;
    char root[4096];
};

/* Creates ROOT and ROOT/tmp when missing; b->base is then usable. */
int ig_blobs_init(struct ig_blobs *b, const char *root);
/* Writes data under its hash; sha256_hex (65 bytes) receives the name and
 * *created says whether this call stored it (0: it was already there). */
int ig_blobs_put(struct ig_blobs *b, const void *data, size_t len, char sha256_hex[65],
                 int *created);
/* Reads a blob into out (a buffer bounded by max). IG_ENOTFOUND when absent,
 * IG_EINVAL for a name that is not 64 lower-case hex digits, IG_ETOOBIG. */
int ig_blobs_read(struct ig_blobs *b, const char *sha256_hex, size_t max, struct ig_buf *out);
/* 1 if the name is 64 lower-case hex digits. */
int ig_blobs_valid_name(const char *s, size_t n);

#endif
