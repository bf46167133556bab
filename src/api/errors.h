/* errors.h — the one place where failures become HTTP: the table from a
 * domain error's kind (core/gen_error.h) to a status and OpenAI's error
 * type, and the OpenAI error shape
 * {"error":{"message","type","param","code"}} every refusal is answered in. */
#ifndef IG_API_ERRORS_H
#define IG_API_ERRORS_H

#include "core/gen_error.h"
#include "server/http.h"

#include <stddef.h>

/* The HTTP status and OpenAI error type of a kind (500 and
 * "server_error" for a value outside the list). */
int ig_api_error_status(enum ig_gen_error_kind kind);
const char *ig_api_error_type(enum ig_gen_error_kind kind);

/* The error document as JSON text (malloc'd, *len set), or NULL when out
 * of memory. param and code may be NULL (rendered as null). */
char *ig_api_error_json(const char *type, const char *code, const char *param, const char *message,
                        size_t *len);

/* Answers req with the error document. */
void ig_api_respond_error(struct ig_http_req *req, int status, const char *type, const char *code,
                          const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Answers req with a domain error: its kind's status and type, its code,
 * param and message, and Retry-After when it carries a hint. */
void ig_api_respond_gen_error(struct ig_http_req *req, const struct ig_gen_error *e);
/* The server's hook for the requests it refuses itself (malformed, too
 * large, timed out): the same error document. */
void ig_api_refuse(struct ig_http_req *req, int status, const char *code, const char *message,
                   void *ud);

#endif
