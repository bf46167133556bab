/* json.c — see json.h.
 *
 * yajl calls back for each token; each value is added to its container as
 * soon as it is made, so the tree under the root is always whole and one
 * json_decref() frees it on any failure. The stack holds the open
 * containers (borrowed) and, for objects, the key waiting for its value. */
#include "util/json.h"
#include "util/buf.h"
#include "util/err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct frame {
    json_t *container;
    /* Objects: the key read, waiting for its value: in short_key, or in
     * long_key (malloc'd) when it does not fit. No pointer into the frame
     * itself: the stack moves when it grows. */
    char *long_key;
    size_t key_len;
    char short_key[48];
};

struct builder {
    size_t flags;
    json_t *root;
    struct frame *stack;
    size_t depth, cap;
    char why[160]; /* our own reason, when a callback stops the parse */
};

static int stop(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int stop(struct builder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof b->why, fmt, ap);
    va_end(ap);
    return 0; /* cancels the parse */
}

/* Adds v (stolen) where the parse stands: the root, the next array item,
 * or the value of the pending key. 1 to go on, 0 to stop. */
static int add(struct builder *b, json_t *v)
{
    if (!v)
        return stop(b, "out of memory");
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    struct frame *f = &b->stack[b->depth - 1];
    int rc;
    if (json_is_array(f->container)) {
        rc = json_array_append_new(f->container, v);
    } else {
        rc = json_object_setn_new_nocheck(f->container, f->long_key ? f->long_key : f->short_key,
                                          f->key_len, v);
        free(f->long_key);
        f->long_key = NULL;
    }
    return rc == 0 ? 1 : stop(b, "out of memory");
}

static int on_null(void *ctx)
{
    return add(ctx, json_null());
}

static int on_boolean(void *ctx, int v)
{
    return add(ctx, json_boolean(v));
}

/* Numbers come as their text, read as jansson reads them: an integer
 * unless there is a fraction or exponent; out of range is an error. */
static int on_number(void *ctx, const char *text, size_t len)
{
    char small[64], *num = len < sizeof small ? small : malloc(len + 1);
    if (!num)
        return stop(ctx, "out of memory");
    memcpy(num, text, len);
    num[len] = '\0';
    int rc;
    errno = 0;
    if (!strpbrk(num, ".eE")) {
        long long v = strtoll(num, NULL, 10);
        rc = errno == ERANGE ? stop(ctx, v < 0 ? "too big negative integer" : "too big integer")
                             : add(ctx, json_integer((json_int_t)v));
    } else {
        double v = strtod(num, NULL);
        rc = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)
                 ? stop(ctx, "real number overflow")
                 : add(ctx, json_real(v));
    }
    if (num != small)
        free(num);
    return rc;
}

/* A string yajl has decoded, as jansson would take it. */
static int check_text(struct builder *b, const unsigned char *s, size_t len, const char *nul_msg)
{
    if (memchr(s, '\0', len))
        return stop(b, "%s", nul_msg);
    /* yajl's own UTF-8 check lets through the encodings of surrogates
     * and of code points past U+10FFFF, which jansson refuses. */
    if (!ig_utf8_valid(s, len))
        return stop(b, "unable to decode a string: not UTF-8");
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    if (!check_text(ctx, s, len, "\\u0000 is not allowed without JSON_ALLOW_NUL"))
        return 0;
    return add(ctx, json_stringn_nocheck((const char *)s, len));
}

static int open_container(struct builder *b, json_t *c)
{
    if (b->depth >= IG_JSON_MAX_DEPTH) {
        json_decref(c);
        return stop(b, "maximum parsing depth reached");
    }
    if (b->depth == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct frame *s = realloc(b->stack, cap * sizeof *s);
        if (!s) {
            json_decref(c);
            return stop(b, "out of memory");
        }
        b->stack = s;
        b->cap = cap;
    }
    if (!add(b, c)) /* the parent (or the root slot) owns it now */
        return 0;
    b->stack[b->depth++] = (struct frame){.container = c};
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, json_object());
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, json_array());
}

static int on_close(void *ctx)
{
    struct builder *b = ctx;
    b->depth--;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct builder *b = ctx;
    struct frame *f = &b->stack[b->depth - 1];
    if (!check_text(b, key, len, "NUL byte in object key not supported"))
        return 0;
    if ((b->flags & JSON_REJECT_DUPLICATES) &&
        json_object_getn(f->container, (const char *)key, len))
        return stop(b, "duplicate object key");
    char *to = f->short_key;
    if (len >= sizeof f->short_key && !(to = f->long_key = malloc(len + 1)))
        return stop(b, "out of memory");
    memcpy(to, key, len);
    to[len] = '\0';
    f->key_len = len;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_close,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_close,
};

/* Fills error like jansson does: the reason, and where (line and column
 * 1-based, position a byte offset). */
static void set_error(json_error_t *error, const char *data, size_t at, const char *text)
{
    if (!error)
        return;
    int line = 1, column = 0;
    for (size_t i = 0; i < at; i++) {
        if (data[i] == '\n') {
            line++;
            column = 0;
        } else {
            column++;
        }
    }
    error->line = line;
    error->column = column;
    error->position = (int)at;
    snprintf(error->source, sizeof error->source, "<buffer>");
    ig_strlcpy(error->text, text, sizeof error->text);
}

/* yajl's message without its trailing newline and excerpt. */
static void yajl_reason(yajl_handle h, const char *data, size_t len, char *out, size_t size)
{
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)data, len);
    ig_strlcpy(out, msg ? (const char *)msg : "invalid JSON", size);
    out[strcspn(out, "\n")] = '\0';
    if (msg)
        yajl_free_error(h, msg);
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++, p++) {
        if (p >= end)
            return -1;
        int d = *p >= '0' && *p <= '9'   ? *p - '0'
                : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

/* yajl decodes a \u escape of half a surrogate pair without checking its
 * other half (and turns a lone one into '?' or into bytes that are not
 * UTF-8), where jansson refuses the text. Backslashes only appear in
 * strings, in pairs with what they escape, so one pass over them finds
 * every \u escape; text with none (base64) is passed over by memchr.
 * Returns the offset of the first bad escape, or len when all are sound. */
static size_t bad_surrogate(const char *data, size_t len, unsigned *cp)
{
    const char *p = data, *end = data + len;
    while ((p = memchr(p, '\\', (size_t)(end - p))) && p + 1 < end) {
        if (p[1] != 'u') {
            p += 2;
            continue;
        }
        unsigned hi, lo;
        if (hex4(p + 2, end, &hi)) /* not an escape yajl takes either */
            return len;
        if (hi >= 0xDC00 && hi <= 0xDFFF) {
            *cp = hi;
            return (size_t)(p - data);
        }
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (p + 7 >= end || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, end, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                *cp = hi;
                return (size_t)(p - data);
            }
            p += 12;
            continue;
        }
        p += 6;
    }
    return len;
}

/* yajl takes a vertical tab or a form feed between tokens as white space;
 * JSON does not (it has four white-space characters), and raw control
 * characters are not allowed in strings either, so either byte anywhere
 * makes the text invalid, as jansson says. Found by tests/fuzz/fuzz_json.
 * Returns the offset of the first, or len. */
static size_t bad_space(const char *data, size_t len)
{
    const char *v = memchr(data, '\v', len), *f = memchr(data, '\f', len);
    const char *first = v && (!f || v < f) ? v : f;
    return first ? (size_t)(first - data) : len;
}

json_t *ig_json_loadb(const char *data, size_t len, size_t flags, json_error_t *error)
{
    size_t space = bad_space(data, len);
    if (space < len) {
        set_error(error, data, space, "invalid token: control character");
        return NULL;
    }
    unsigned cp = 0;
    size_t bad = bad_surrogate(data, len, &cp);
    if (bad < len) {
        char why[64];
        snprintf(why, sizeof why, "invalid Unicode '\\u%04X'", cp);
        set_error(error, data, bad, why);
        return NULL;
    }
    struct builder b = {.flags = flags};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &b);
    if (!h) {
        set_error(error, data, 0, "out of memory");
        return NULL;
    }
    yajl_status st = yajl_parse(h, (const unsigned char *)data, len);
    size_t at = yajl_get_bytes_consumed(h);
    /* yajl stops reading at the end of the top-level value, and at the end
     * of the text does not look at a string it has begun after it ("[1]
     * \"x" parsed). A newline more is white space after a value and an
     * error inside a string, where JSON allows no raw control character.
     * Found by tests/fuzz/fuzz_json. */
    if (st == yajl_status_ok) {
        st = yajl_parse(h, (const unsigned char *)"\n", 1);
        at = len;
    }
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    char why[160] = "";
    if (st == yajl_status_client_canceled)
        ig_strlcpy(why, b.why, sizeof why);
    else if (st != yajl_status_ok)
        yajl_reason(h, data, len, why, sizeof why);
    else if (!b.root)
        snprintf(why, sizeof why, "'[' or '{' expected near end of file");
    else if (!(flags & JSON_DECODE_ANY) && !json_is_object(b.root) && !json_is_array(b.root))
        snprintf(why, sizeof why, "'[' or '{' expected");
    for (size_t i = 0; i < b.depth; i++)
        free(b.stack[i].long_key);
    free(b.stack);
    yajl_free(h);
    if (why[0]) {
        json_decref(b.root);
        set_error(error, data, at, why);
        return NULL;
    }
    return b.root;
}

/* ---- writing ---- */

static int dump_value(struct ig_buf *b, const json_t *v, int depth);

static int dump_string(struct ig_buf *b, const char *s, size_t n)
{
    int rc = ig_buf_append(b, "\"", 1);
    rc = rc ? rc : ig_buf_json_escape(b, s, n);
    return rc ? rc : ig_buf_append(b, "\"", 1);
}

static int dump_container(struct ig_buf *b, const json_t *v, int depth)
{
    json_t *m = ig_mutable(v); /* jansson's iterators take non-const */
    int object = json_is_object(v), rc = 0, first = 1;
    if (depth >= IG_JSON_MAX_DUMP_DEPTH)
        return IG_EINVAL;
    rc = ig_buf_append(b, object ? "{" : "[", 1);
    if (object) {
        const char *key;
        json_t *item;
        json_object_foreach(m, key, item)
        {
            rc = rc || first ? rc : ig_buf_append(b, ",", 1);
            first = 0;
            rc = rc ? rc : dump_string(b, key, strlen(key));
            rc = rc ? rc : ig_buf_append(b, ":", 1);
            rc = rc ? rc : dump_value(b, item, depth + 1);
            if (rc)
                break;
        }
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(m, i, item)
        {
            rc = rc || first ? rc : ig_buf_append(b, ",", 1);
            first = 0;
            rc = rc ? rc : dump_value(b, item, depth + 1);
            if (rc)
                break;
        }
    }
    return rc ? rc : ig_buf_append(b, object ? "}" : "]", 1);
}

static int dump_integer(struct ig_buf *b, long long i)
{
    /* The magnitude as unsigned, so LLONG_MIN has one too. */
    unsigned long long mag = i < 0 ? 0ull - (unsigned long long)i : (unsigned long long)i;
    int rc = i < 0 ? ig_buf_append(b, "-", 1) : 0;
    return rc ? rc : ig_buf_put_u64(b, mag);
}

static int dump_real(struct ig_buf *b, double v)
{
    /* As jansson writes them: 17 digits, and always a fraction or an
     * exponent, so the text reads back as a real. */
    char num[40];
    int n = snprintf(num, sizeof num, "%.17g", v);
    if (!strpbrk(num, ".eE") && n + 2 < (int)sizeof num) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    return ig_buf_append(b, num, (size_t)n);
}

static int dump_value(struct ig_buf *b, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return dump_container(b, v, depth);
    case JSON_STRING:
        return dump_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return dump_integer(b, json_integer_value(v));
    case JSON_REAL:
        return dump_real(b, json_real_value(v));
    case JSON_TRUE:
        return ig_buf_append(b, "true", 4);
    case JSON_FALSE:
        return ig_buf_append(b, "false", 5);
    default:
        return ig_buf_append(b, "null", 4);
    }
}

char *ig_json_dumps(const json_t *v, size_t *len)
{
    if (!v)
        return NULL;
    struct ig_buf text;
    ig_buf_init(&text, SIZE_MAX / 2);
    /* Most values here are small request bodies and records: one
     * allocation holds them. */
    if (ig_buf_reserve(&text, 512) || dump_value(&text, v, 0)) {
        ig_buf_release(&text);
        return NULL;
    }
    return ig_buf_detach(&text, len);
}

/* ---- writing member by member ---- */

void ig_jw_begin(struct ig_jw *w, struct ig_buf *b)
{
    w->b = b;
    w->comma = 0;
    w->rc = ig_buf_append(b, "{", 1);
}

/* The separator and key of the next member; 0 to go on writing it. */
static int member(struct ig_jw *w, const char *key)
{
    if (w->rc)
        return w->rc;
    if (w->comma)
        w->rc = ig_buf_append(w->b, ",", 1);
    w->comma = 1;
    if (key && w->rc == 0) {
        w->rc = ig_buf_append(w->b, "\"", 1);
        w->rc = w->rc ? w->rc : ig_buf_puts(w->b, key);
        w->rc = w->rc ? w->rc : ig_buf_append(w->b, "\":", 2);
    }
    return w->rc;
}

void ig_jw_str(struct ig_jw *w, const char *key, const char *v)
{
    if (member(w, key) == 0)
        w->rc = v ? dump_string(w->b, v, strlen(v)) : ig_buf_append(w->b, "null", 4);
}

void ig_jw_int(struct ig_jw *w, const char *key, long long v)
{
    if (member(w, key) == 0)
        w->rc = dump_integer(w->b, v);
}

void ig_jw_real(struct ig_jw *w, const char *key, double v)
{
    if (member(w, key) == 0)
        w->rc = dump_real(w->b, v);
}

void ig_jw_bool(struct ig_jw *w, const char *key, int v)
{
    if (member(w, key) == 0)
        w->rc = v ? ig_buf_append(w->b, "true", 4) : ig_buf_append(w->b, "false", 5);
}

void ig_jw_raw(struct ig_jw *w, const char *key, const char *json)
{
    if (member(w, key) == 0)
        w->rc = ig_buf_puts(w->b, json);
}

void ig_jw_value(struct ig_jw *w, const char *key, const json_t *v)
{
    if (member(w, key) == 0)
        w->rc = v ? dump_value(w->b, v, 0) : ig_buf_append(w->b, "null", 4);
}

void ig_jw_open(struct ig_jw *w, const char *key, char bracket)
{
    if (member(w, key) == 0)
        w->rc = ig_buf_append(w->b, &bracket, 1);
    w->comma = 0;
}

void ig_jw_close(struct ig_jw *w, char bracket)
{
    if (w->rc == 0)
        w->rc = ig_buf_append(w->b, &bracket, 1);
    w->comma = 1;
}

int ig_jw_end(struct ig_jw *w)
{
    ig_jw_close(w, '}');
    return w->rc;
}
