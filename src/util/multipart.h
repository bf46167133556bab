/* multipart.h — writes multipart/form-data bodies (RFC 7578) for upstream
 * requests: text fields and file parts. The boundary is random, so no
 * value can contain it by accident; values holding it anyway are refused. */
#ifndef IG_MULTIPART_H
#define IG_MULTIPART_H

#include "util/buf.h"

struct ig_multipart {
    struct ig_buf body;
    char boundary[48];
    char content_type[96]; /* "multipart/form-data; boundary=…" */
};

int ig_multipart_init(struct ig_multipart *m, size_t max);
int ig_multipart_field(struct ig_multipart *m, const char *name, const char *value);
/* A file part: binary data with a filename and a content type. */
int ig_multipart_file(struct ig_multipart *m, const char *name, const char *filename,
                      const char *content_type, const void *data, size_t len);
/* Closes the body; it is then m->body (detach it to keep it). */
int ig_multipart_finish(struct ig_multipart *m);
void ig_multipart_release(struct ig_multipart *m);

#endif
