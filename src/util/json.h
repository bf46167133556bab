/* json.h — JSON text to jansson values, lexed by yajl.
 *
 * jansson reads a string a byte at a time, through an indirect call and
 * several passes; an image gateway's JSON is mostly one long base64
 * string, and there that costs about 20 ns a byte: 43 us for an answer
 * with 2 KB of base64, 48 ms for one with 2 MB. yajl's lexer reads the
 * same text 8 to 13 times faster. This parses with yajl and builds the
 * same jansson values, so everything that reads them stays as it is.
 *
 * Accepts exactly what json_loadb(data, len, flags, error) accepts, for
 * the flags below: one JSON text, UTF-8 checked, no \u0000 in strings or
 * keys, integers within int64, reals within double, at most
 * IG_JSON_MAX_DEPTH levels of nesting, nothing after the value but
 * whitespace. tests/unit/test_json.c holds the two parsers to that. */
#ifndef IG_JSON_H
#define IG_JSON_H

#include "util/buf.h"

#include <jansson.h>
#include <stddef.h>

#define IG_JSON_MAX_DEPTH 2048 /* jansson's own limit */

/* flags: 0, JSON_REJECT_DUPLICATES, JSON_DECODE_ANY (others are ignored).
 * NULL on failure, with error->text (and its position) filled when error
 * is not NULL. */
json_t *ig_json_loadb(const char *data, size_t len, size_t flags, json_error_t *error);

/* The compact JSON text of v, written straight into one buffer (jansson's
 * json_dumps spends about 20 ns a byte escaping: tens of milliseconds for
 * a streamed image; yajl's generator, used before, cost about 3 us for a
 * small record in per-token callbacks and number formatting). malloc'd and
 * NUL-terminated, its length in *len when len is not NULL. Reals are
 * written with 17 significant digits, so they read back exactly. NULL when
 * out of memory, or when v nests deeper than IG_JSON_MAX_DUMP_DEPTH
 * levels (the gateway's values are a few deep). Strings are escaped by
 * ig_buf_json_escape: bytes that are not UTF-8 become U+FFFD, though every
 * jansson string made with checks (or parsed by ig_json_loadb) is UTF-8. */
#define IG_JSON_MAX_DUMP_DEPTH 128
char *ig_json_dumps(const json_t *v, size_t *len);

/* Writing JSON straight into a buffer, member by member, for the records
 * and bodies built on every request (no jansson values made and freed on
 * the way). The first failure sticks: every later call does nothing and
 * ig_jw_end returns it. key is written as given (the caller's literal: no
 * escapes needed) and is NULL for array items; string values are escaped;
 * a NULL string or value is written as null. Nesting (ig_jw_open and
 * ig_jw_close) is the caller's to balance. A value that is not an object
 * is written by a writer zeroed but for b, starting with
 * ig_jw_open(w, NULL, '[') and ending with ig_jw_close and a look at rc. */
struct ig_jw {
    struct ig_buf *b;
    int rc;
    int comma; /* the level being written has a member: the next needs a comma */
};
void ig_jw_begin(struct ig_jw *w, struct ig_buf *b); /* the outer "{" */
void ig_jw_str(struct ig_jw *w, const char *key, const char *v);
void ig_jw_int(struct ig_jw *w, const char *key, long long v);
void ig_jw_real(struct ig_jw *w, const char *key, double v);
void ig_jw_bool(struct ig_jw *w, const char *key, int v);
/* A value written as it is: a number already in JSON's form ("10.5"). */
void ig_jw_raw(struct ig_jw *w, const char *key, const char *json);
void ig_jw_value(struct ig_jw *w, const char *key, const json_t *v);
void ig_jw_open(struct ig_jw *w, const char *key, char bracket); /* '{' or '[' */
void ig_jw_close(struct ig_jw *w, char bracket);                 /* '}' or ']' */
int ig_jw_end(struct ig_jw *w); /* the outer "}"; 0 or the first IG_E* */

#endif
