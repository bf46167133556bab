/* blobs.c — content-addressed files; see blobs.h for the guarantees. */
#include "store/blobs.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
    char tmp[4096];
    ig_strlcpy(tmp, path, sizeof tmp);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return IG_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return IG_EIO;
    return 0;
}

static int files_put(struct ig_blob_store *s, const void *data, size_t len, char sha256_hex[65],
                     int *created)
{
    return ig_blobs_put((struct ig_blobs *)s, data, len, sha256_hex, created);
}

static int files_read(struct ig_blob_store *s, const char *sha256_hex, size_t max,
                      struct ig_buf *out)
{
    return ig_blobs_read((struct ig_blobs *)s, sha256_hex, max, out);
}

static const struct ig_blob_store_ops files_ops = {.put = files_put, .read = files_read};

int ig_blobs_init(struct ig_blobs *b, const char *root)
{
    b->base.ops = &files_ops;
    char tmp[4200];
    if ((size_t)snprintf(b->root, sizeof b->root, "%s", root) >= sizeof b->root)
        return IG_EINVAL;
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    if (mkdir_p(root) || mkdir_p(tmp)) {
        ig_error("cannot create blob directory '%s': %s", root, strerror(errno));
        return IG_EIO;
    }
    return 0;
}

int ig_blobs_valid_name(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ROOT/ab/cd/abcd… in file and ROOT/ab/cd in dir (each at least
 * BLOB_PATH_MAX bytes), by copying: formatting them was a visible part of
 * storing a small image. hex is 64 hex digits. */
#define BLOB_PATH_MAX (sizeof((struct ig_blobs *)0)->root + 96) /* tmp/<hex>.<16> too */
static void blob_path(const struct ig_blobs *b, const char *hex, char *dir, char *file)
{
    size_t n = strlen(b->root); /* below sizeof root: ig_blobs_init checked */
    memcpy(file, b->root, n);
    char *p = file + n;
    *p++ = '/';
    *p++ = hex[0];
    *p++ = hex[1];
    *p++ = '/';
    *p++ = hex[2];
    *p++ = hex[3];
    size_t dir_len = (size_t)(p - file);
    *p++ = '/';
    memcpy(p, hex, 64);
    p[64] = '\0';
    memcpy(dir, file, dir_len);
    dir[dir_len] = '\0';
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return IG_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int ig_blobs_put(struct ig_blobs *b, const void *data, size_t len, char sha256_hex[65],
                 int *created)
{
    uint8_t digest[IG_SHA256_LEN];
    char dir[BLOB_PATH_MAX], file[BLOB_PATH_MAX], tmp[BLOB_PATH_MAX];
    ig_sha256(data, len, digest);
    ig_hex(digest, sizeof digest, sha256_hex);
    blob_path(b, sha256_hex, dir, file);
    *created = 0;
    if (access(file, F_OK) == 0)
        return 0;
    if (mkdir_p(dir))
        return IG_EIO;
    char rnd[17];
    if (ig_random_id("", 8, rnd, sizeof rnd))
        return IG_ECRYPTO;
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.%s", b->root, sha256_hex, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        ig_error("cannot create blob file %s: %s", tmp, strerror(errno));
        return IG_EIO;
    }
    int rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = IG_EIO;
    if (close(fd) < 0 && rc == 0)
        rc = IG_EIO;
    if (rc == 0 && rename(tmp, file) < 0)
        rc = IG_EIO;
    if (rc) {
        unlink(tmp);
        ig_error("cannot store blob %s: %s", sha256_hex, strerror(errno));
        return rc;
    }
    fsync_dir(dir);
    *created = 1;
    return 0;
}

int ig_blobs_read(struct ig_blobs *b, const char *hex, size_t max, struct ig_buf *out)
{
    char dir[BLOB_PATH_MAX], file[BLOB_PATH_MAX];
    if (!ig_blobs_valid_name(hex, strlen(hex)))
        return IG_EINVAL;
    blob_path(b, hex, dir, file);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? IG_ENOTFOUND : IG_EIO;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = IG_EIO;
        goto out;
    }
    if ((size_t)st.st_size > max) {
        rc = IG_ETOOBIG;
        goto out;
    }
    ig_buf_init(out, (size_t)st.st_size);
    rc = ig_buf_reserve(out, (size_t)st.st_size);
    if (rc)
        goto out;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, out->data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = IG_EIO;
            break;
        }
        got += (size_t)r;
    }
    out->len = got;
    if (rc == 0)
        out->data[got] = '\0';
    else
        ig_buf_release(out);
out:
    close(fd);
    return rc;
}
