/* formdata.c — see formdata.h.
 *
 * GMime parses MIME entities, so the body is presented to it as one: a
 * Content-Type header line (the request's own) followed by the body, read
 * through a concatenating stream so the body is not copied for it. Each
 * part's content is then written out decoded (a Content-Transfer-Encoding,
 * which RFC 7578 deprecates, is honoured) and copied once into the field. */
#include "util/formdata.h"
#include "util/buf.h"
#include "util/err.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

void ig_formdata_global_init(void)
{
    pthread_once(&gmime_once, gmime_init_once);
}

static int refuse(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return IG_EINVAL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Writes part's decoded content into f->data. */
static int take_content(GMimePart *part, struct ig_form_field *f)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *mem = g_mime_stream_mem_new();
    if (!mem)
        return IG_ENOMEM;
    if (w && g_mime_data_wrapper_write_to_stream(w, mem) < 0) {
        g_object_unref(mem);
        return IG_EINVAL;
    }
    GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    f->len = arr ? arr->len : 0;
    f->data = malloc(f->len + 1);
    if (f->data) {
        if (f->len)
            memcpy(f->data, arr->data, f->len);
        f->data[f->len] = '\0';
    }
    g_object_unref(mem);
    return f->data ? 0 : IG_ENOMEM;
}

static int read_part(GMimeObject *obj, size_t index, struct ig_form_field *f, char *why,
                     size_t why_size)
{
    if (!GMIME_IS_PART(obj))
        return refuse(why, why_size,
                      "part %zu is a nested multipart or message, which form uploads do not use",
                      index + 1);
    GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
    const char *kind = disp ? g_mime_content_disposition_get_disposition(disp) : NULL;
    const char *name = disp ? g_mime_content_disposition_get_parameter(disp, "name") : NULL;
    if (!kind || strcasecmp(kind, "form-data") != 0 || !name || !*name)
        return refuse(why, why_size,
                      "part %zu has no 'Content-Disposition: form-data; name=\"…\"' header",
                      index + 1);
    if (strlen(name) >= sizeof f->name)
        return refuse(why, why_size, "part %zu has a name longer than %d characters", index + 1,
                      IG_FORM_NAME_MAX - 1);
    ig_strlcpy(f->name, name, sizeof f->name);
    const char *filename = g_mime_content_disposition_get_parameter(disp, "filename");
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    f->content_type = strdup(type ? type : "text/plain");
    g_free(type);
    /* A file part may have an empty filename (browsers send filename=""
     * for nothing chosen); it is still a file part. */
    f->filename = filename ? dup_or_null(filename) : NULL;
    if (!f->content_type || (filename && !f->filename))
        return IG_ENOMEM;
    int rc = take_content(GMIME_PART(obj), f);
    if (rc == IG_EINVAL)
        return refuse(why, why_size, "part '%s' cannot be decoded", f->name);
    if (rc)
        return rc;
    if (!f->filename && f->len > IG_FORM_TEXT_MAX)
        return refuse(why, why_size, "field '%s' is longer than %d bytes", f->name,
                      IG_FORM_TEXT_MAX);
    return 0;
}

/* The header line GMime reads first; refuses values that could break it. */
static int header_line(const char *ct, size_t ct_len, char **out, char *why, size_t why_size)
{
    static const char prefix[] = "multipart/form-data";
    if (ct_len < sizeof prefix - 1 || strncasecmp(ct, prefix, sizeof prefix - 1) != 0)
        return refuse(why, why_size, "Content-Type must be multipart/form-data");
    if (memchr(ct, '\r', ct_len) || memchr(ct, '\n', ct_len) || memchr(ct, '\0', ct_len) ||
        ct_len > 1024)
        return refuse(why, why_size, "the Content-Type header is malformed");
    size_t n = ct_len + sizeof "Content-Type: \r\n\r\n";
    *out = malloc(n);
    if (!*out)
        return IG_ENOMEM;
    snprintf(*out, n, "Content-Type: %.*s\r\n\r\n", (int)ct_len, ct);
    return 0;
}

int ig_formdata_parse(const char *content_type, size_t ct_len, const void *body, size_t len,
                      size_t max_fields, struct ig_form *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    why[0] = '\0';
    ig_formdata_global_init();
    char *head = NULL;
    int rc = header_line(content_type, ct_len, &head, why, why_size);
    if (rc)
        return rc;

    /* The body is read in place: a byte array over it that the stream
     * does not own, freed (without its data) once parsing is done. */
    GByteArray *arr = g_byte_array_new_take(ig_mutable(body), len);
    GMimeStream *head_stream = g_mime_stream_mem_new_with_buffer(head, strlen(head));
    GMimeStream *body_stream = g_mime_stream_mem_new_with_byte_array(arr);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(body_stream), FALSE);
    GMimeStream *cat = g_mime_stream_cat_new();
    g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), head_stream);
    g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), body_stream);
    g_object_unref(head_stream);
    free(head);
    GMimeParser *parser = g_mime_parser_new_with_stream(cat);
    /* Parts stay substreams of the body (the default), read before it goes. */
    GMimeObject *root = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);

    if (!root || !GMIME_IS_MULTIPART(root)) {
        rc = refuse(why, why_size, "the body is not a multipart/form-data message");
        goto out;
    }
    GMimeContentType *ct = g_mime_object_get_content_type(root);
    const char *boundary = ct ? g_mime_content_type_get_parameter(ct, "boundary") : NULL;
    if (!boundary || !*boundary) {
        rc = refuse(why, why_size, "the multipart/form-data Content-Type has no boundary");
        goto out;
    }
    GMimeMultipart *mp = GMIME_MULTIPART(root);
    int count = g_mime_multipart_get_count(mp);
    if (count <= 0) {
        rc = refuse(why, why_size, "the body has no parts (is the boundary right?)");
        goto out;
    }
    if ((size_t)count > max_fields) {
        rc = refuse(why, why_size, "the form has %d parts; at most %zu are accepted", count,
                    max_fields);
        goto out;
    }
    out->fields = calloc((size_t)count, sizeof *out->fields);
    if (!out->fields) {
        rc = IG_ENOMEM;
        goto out;
    }
    for (int i = 0; i < count; i++) {
        out->n++;
        rc = read_part(g_mime_multipart_get_part(mp, i), (size_t)i, &out->fields[i], why, why_size);
        if (rc)
            goto out;
    }
out:
    if (root)
        g_object_unref(root);
    g_object_unref(body_stream);
    g_object_unref(cat);
    g_byte_array_free(arr, FALSE); /* the data stays the caller's */
    if (rc)
        ig_form_release(out);
    return rc;
}

void ig_form_release(struct ig_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->fields[i].filename);
        free(f->fields[i].content_type);
        free(f->fields[i].data);
    }
    free(f->fields);
    memset(f, 0, sizeof *f);
}

const struct ig_form_field *ig_form_get(const struct ig_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return &f->fields[i];
    return NULL;
}
