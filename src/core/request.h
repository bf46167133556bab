/* request.h — decoding and validating a generation request.
 *
 * ig_gen_request_parse() turns the JSON body of POST /v1/images/generations
 * into struct ig_gen_request, the normalized request every later stage
 * reads. Every rejection fills struct ig_api_error with the HTTP status,
 * OpenAI error type and code, and the param it is about. */
#ifndef IG_REQUEST_H
#define IG_REQUEST_H

#include "core/models.h"
#include "image/codec.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct ig_api_error {
    int status;
    const char *type; /* "invalid_request_error" */
    const char *code; /* may be NULL */
    char param[64];   /* empty: null */
    char message[512];
};

enum ig_response_format { IG_RESP_URL, IG_RESP_B64 };

struct ig_gen_request {
    const struct ig_model *model;
    const char *prompt;          /* borrowed from json */
    const char *negative_prompt; /* NULL when absent */
    int n;
    int width, height;
    char size[24];       /* "WxH" as answered */
    const char *quality; /* "standard" etc., never NULL */
    const char *style;   /* NULL when absent */
    enum ig_response_format response_format;
    enum ig_format output_format;
    int output_compression; /* 0–100; -1 when absent */
    const char *user;
    const char *background; /* NULL when absent */
    const char *moderation; /* NULL when absent */
    int stream;             /* stream=true */
    int partial_images;     /* 0–3, with stream */
    int64_t seed;           /* -1 when absent */
    int steps;              /* 0 when absent */
    double guidance;        /* < 0 when absent */
    json_t *metadata;       /* borrowed; NULL when absent */
    json_t *json;           /* the parsed body, owned */
};

/* Parses and validates body. On success the request borrows strings from
 * req->json; release with ig_gen_request_release(). On failure err is
 * filled and nothing needs releasing. */
int ig_gen_request_parse(const char *body, size_t len, const struct ig_models *models,
                         struct ig_gen_request *req, struct ig_api_error *err);
void ig_gen_request_release(struct ig_gen_request *req);
/* The normalized request as compact JSON (malloc'd), for the history. */
char *ig_gen_request_normalized_json(const struct ig_gen_request *req);

#endif
