/* buf.h — a growable byte buffer that declares its maximum at creation.
 * Appending past the maximum fails with IG_ETOOBIG and leaves the buffer as
 * it was, so untrusted input can never make it grow without bound. The data
 * is always NUL-terminated (the NUL is not counted in len). */
#ifndef IG_BUF_H
#define IG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ig_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

/* Empty buffer that may hold at most max bytes. Allocates nothing. */
void ig_buf_init(struct ig_buf *b, size_t max);
/* A buffer over caller-owned memory of size bytes (for a stack line):
 * it never reallocates, holds at most size - 1 bytes plus the NUL, and is
 * never released. */
void ig_buf_init_fixed(struct ig_buf *b, char *mem, size_t size);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void ig_buf_release(struct ig_buf *b);
/* Make room for extra more bytes; IG_ETOOBIG past max, IG_ENOMEM. */
int ig_buf_reserve(struct ig_buf *b, size_t extra);
/* ig_buf_append's growing half; call ig_buf_append. */
int ig_buf_append_grow(struct ig_buf *b, const void *p, size_t n);
/* Inline: an append that fits the room already there (most do: a buffer
 * is reserved once for what it will hold) is a copy, and a literal's
 * length is known where it is put. */
static inline int ig_buf_append(struct ig_buf *b, const void *p, size_t n)
{
    if (n < b->cap - b->len && n <= b->max - b->len) { /* room for it and the NUL */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return ig_buf_append_grow(b, p, n);
}
static inline int ig_buf_puts(struct ig_buf *b, const char *s)
{
    return ig_buf_append(b, s, strlen(s));
}
/* Appends v in decimal. */
int ig_buf_put_u64(struct ig_buf *b, unsigned long long v);
int ig_buf_printf(struct ig_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ig_buf_vprintf(struct ig_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as the body of a JSON string (without quotes), escaped; bytes
 * that are not well-formed UTF-8 become \ufffd. */
int ig_buf_json_escape(struct ig_buf *b, const char *s, size_t n);
/* 1 when the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), else 0. */
int ig_utf8_valid(const void *s, size_t n);
/* Copies the string src into dst (size bytes), cut to fit and always
 * NUL-terminated when size > 0, as BSD's strlcpy; returns strlen(src), so
 * a result >= size means it was cut. */
size_t ig_strlcpy(char *dst, const char *src, size_t size);
/* dst (size bytes) becomes a, b and c (c may be NULL) joined, cut to fit
 * and NUL-terminated: a key such as "res:" + account, without printf's
 * cost on a hot path. */
void ig_join3(char *dst, size_t size, const char *a, const char *b, const char *c);
/* The next item of a list separated by commas and spaces ("a, b,c"):
 * its start, with *len its length and *cursor moved past it; NULL at the
 * end. */
const char *ig_list_next(const char **cursor, size_t *len);
/* Hands the data to the caller (to free()) and leaves the buffer empty. */
char *ig_buf_detach(struct ig_buf *b, size_t *len);
void ig_buf_reset(struct ig_buf *b);

/* For C APIs that take a non-const pointer they do not write through
 * (uv_buf_t, libpng text): the one place const is dropped. */
static inline void *ig_mutable(const void *p)
{
    return (void *)(uintptr_t)p;
}

#endif
