/* multipart.c — see multipart.h. */
#include "util/multipart.h"
#include "util/crypto.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

int ig_multipart_init(struct ig_multipart *m, size_t max)
{
    ig_buf_init(&m->body, max);
    if (ig_random_id("----imagegate", 16, m->boundary, sizeof m->boundary))
        return IG_ECRYPTO;
    snprintf(m->content_type, sizeof m->content_type, "multipart/form-data; boundary=%s",
             m->boundary);
    return 0;
}

int ig_multipart_field(struct ig_multipart *m, const char *name, const char *value)
{
    if (strpbrk(name, "\"\r\n") || strstr(value, m->boundary))
        return IG_EINVAL;
    return ig_buf_printf(&m->body,
                         "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n",
                         m->boundary, name, value);
}

int ig_multipart_file(struct ig_multipart *m, const char *name, const char *filename,
                      const char *content_type, const void *data, size_t len)
{
    if (strpbrk(name, "\"\r\n") || strpbrk(filename, "\"\r\n") || strpbrk(content_type, "\r\n") ||
        memmem(data, len, m->boundary, strlen(m->boundary)))
        return IG_EINVAL;
    int rc = ig_buf_printf(&m->body,
                           "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                           "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
                           m->boundary, name, filename, content_type);
    rc = rc ? rc : ig_buf_append(&m->body, data, len);
    return rc ? rc : ig_buf_append(&m->body, "\r\n", 2);
}

int ig_multipart_finish(struct ig_multipart *m)
{
    return ig_buf_printf(&m->body, "--%s--\r\n", m->boundary);
}

void ig_multipart_release(struct ig_multipart *m)
{
    ig_buf_release(&m->body);
}
