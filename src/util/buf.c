/* buf.c — bounded growable buffers; see buf.h for the contract. Growth is
 * geometric but never past the declared maximum (+1 for the NUL). */
#include "util/buf.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ig_buf_init(struct ig_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void ig_buf_init_fixed(struct ig_buf *b, char *mem, size_t size)
{
    /* With max = cap - 1, ig_buf_reserve() refuses before it would grow. */
    b->data = mem;
    b->len = 0;
    b->cap = size;
    b->max = size - 1;
    mem[0] = '\0';
}

void ig_buf_release(struct ig_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ig_buf_reset(struct ig_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int ig_buf_reserve(struct ig_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return IG_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1; /* (an unbounded max would wrap to 0 here) */
    char *p = realloc(b->data, cap);
    if (!p)
        return IG_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ig_buf_append_grow(struct ig_buf *b, const void *p, size_t n)
{
    /* Once the room is made, the inline append's copy is taken. */
    int rc = ig_buf_reserve(b, n);
    return rc ? rc : ig_buf_append(b, p, n);
}

int ig_buf_put_u64(struct ig_buf *b, unsigned long long v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return ig_buf_append(b, tmp + i, sizeof tmp - i);
}

int ig_buf_vprintf(struct ig_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    /* Format straight into the spare room; only when it does not fit,
     * grow and format again. */
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
    va_end(cp);
    if (n < 0)
        return IG_EINVAL;
    if ((size_t)n < room) {
        if ((size_t)n > b->max - b->len) {
            b->data[b->len] = '\0';
            return IG_ETOOBIG;
        }
        b->len += (size_t)n;
        return 0;
    }
    if (room)
        b->data[b->len] = '\0';
    int rc = ig_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ig_buf_printf(struct ig_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ig_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF); 0 when there is
 * none. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

int ig_utf8_valid(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        /* Runs of ASCII (all of base64) go 32, then eight bytes at a time. */
        const uint64_t high = 0x8080808080808080ull;
        uint64_t w[4];
        while (i + 32 <= n && (memcpy(w, s + i, 32), ((w[0] | w[1] | w[2] | w[3]) & high) == 0))
            i += 32;
        while (i + 8 <= n && (memcpy(w, s + i, 8), (w[0] & high) == 0))
            i += 8;
        if (i == n)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_sequence(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

int ig_buf_json_escape(struct ig_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        /* A run of bytes that need no escape (base64, most text) goes in
         * one append. */
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            int rc = ig_buf_append(b, s + i, run - i);
            if (rc)
                return rc;
            i = run;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        int rc;
        if (c >= 0x80) {
            /* Bytes that are not UTF-8 (a client's, or a multi-byte
             * character cut by a length limit) become U+FFFD, so the
             * output is always valid JSON. */
            size_t len = utf8_sequence((const unsigned char *)s + i, n - i);
            if (len) {
                rc = ig_buf_append(b, &s[i], len);
                i += len - 1;
            } else {
                rc = ig_buf_append(b, "\\ufffd", 6);
            }
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rc = ig_buf_append(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            rc = ig_buf_append(b, esc, 6);
        } else {
            rc = ig_buf_append(b, &s[i], 1);
        }
        if (rc)
            return rc;
    }
    return 0;
}

char *ig_buf_detach(struct ig_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

const char *ig_list_next(const char **cursor, size_t *len)
{
    const char *p = *cursor ? *cursor : "";
    while (*p == ' ' || *p == ',')
        p++;
    if (!*p) {
        *cursor = p;
        return NULL;
    }
    *len = strcspn(p, ", ");
    *cursor = p + *len;
    return p;
}

void ig_join3(char *dst, size_t size, const char *a, const char *b, const char *c)
{
    size_t used = ig_strlcpy(dst, a, size);
    if (used < size)
        used += ig_strlcpy(dst + used, b, size - used);
    if (c && used < size)
        ig_strlcpy(dst + used, c, size - used);
}

size_t ig_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t take = n < size ? n : size - 1;
        memcpy(dst, src, take);
        dst[take] = '\0';
    }
    return n;
}
