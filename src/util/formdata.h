/* formdata.h — reads multipart/form-data request bodies (RFC 7578) through
 * GMime's MIME parser, for the upload endpoints (image edits, variations).
 *
 * The body is already bounded by the HTTP layer (limits.max_upload_bytes)
 * when it arrives here; parsing adds bounds of its own: at most max_fields
 * parts, text fields of at most IG_FORM_TEXT_MAX bytes, part names of at
 * most IG_FORM_NAME_MAX. GMime caps nesting depth itself, and nested
 * multiparts are refused here anyway. Parsing copies each part's content
 * once, so the peak is about twice the body. Thread-safe once
 * ig_formdata_global_init() has run. */
#ifndef IG_FORMDATA_H
#define IG_FORMDATA_H

#include <stddef.h>
#include <stdint.h>

#define IG_FORM_NAME_MAX 64
#define IG_FORM_TEXT_MAX 65536

struct ig_form_field {
    char name[IG_FORM_NAME_MAX];
    char *filename;     /* NULL for a text field; malloc'd */
    char *content_type; /* the part's type ("text/plain" when absent); malloc'd */
    uint8_t *data;      /* the content, NUL-terminated (not counted); malloc'd */
    size_t len;
};

struct ig_form {
    struct ig_form_field *fields;
    size_t n;
};

/* Once, before threads start (GMime's global tables). */
void ig_formdata_global_init(void);

/* Parses body under the request's Content-Type header value. 0, or
 * IG_EINVAL with a client-facing reason in why (not multipart/form-data,
 * no boundary, malformed parts, a part without a name, too many parts or
 * an over-long text field), or IG_ENOMEM. */
int ig_formdata_parse(const char *content_type, size_t ct_len, const void *body, size_t len,
                      size_t max_fields, struct ig_form *out, char *why, size_t why_size);
void ig_form_release(struct ig_form *f);

/* The first field named name; NULL when none. */
const struct ig_form_field *ig_form_get(const struct ig_form *f, const char *name);

#endif
