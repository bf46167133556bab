/* request.h — decoding and validating a generation request.
 *
 * ig_gen_request_parse() turns the JSON body of POST /v1/images/generations
 * into struct ig_gen_request, the normalized request every later stage
 * reads; ig_edit_request_parse() does the same for the multipart forms of
 * /v1/images/edits and /v1/images/variations, through the same checks. Every
 * rejection fills struct ig_gen_error (core/gen_error.h): its kind, code
 * and the param it is about. */
#ifndef IG_REQUEST_H
#define IG_REQUEST_H

#include "core/gen_error.h"
#include "core/models.h"
#include "core/styles.h"
#include "image/codec.h"
#include "util/formdata.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum ig_response_format { IG_RESP_URL, IG_RESP_B64 };

enum ig_operation { IG_OP_GENERATE, IG_OP_EDIT, IG_OP_VARIATION };

#define IG_MAX_INPUT_IMAGES 16

/* An uploaded image or mask, checked: a PNG, JPEG or WebP whose header
 * parses and whose pixels are within limits.max_input_pixels. */
struct ig_upload {
    uint8_t *bytes; /* owned */
    size_t len;
    enum ig_format format;
    int width, height;
};

struct ig_gen_request {
    const struct ig_model *model;
    const char *prompt;          /* borrowed from json */
    const char *negative_prompt; /* NULL when absent */
    int n;
    int width, height;
    char size[24];       /* "WxH" as answered */
    const char *quality; /* "standard" etc., never NULL */
    const char *style;   /* NULL when absent; the model's own, or the catalogue's */
    /* A catalogue style (core/styles.h) and the prompt with its suffix, for
     * providers without a preset for it (ig_gen_request_prompt); NULL: none. */
    const struct ig_style *style_def;
    char *styled_prompt;
    enum ig_response_format response_format;
    enum ig_format output_format;
    int output_compression; /* 0–100; -1 when absent */
    const char *user;
    const char *background;  /* NULL when absent */
    const char *moderation;  /* NULL when absent */
    int stream;              /* stream=true */
    int partial_images;      /* 0–3, with stream */
    int64_t seed;            /* -1 when absent */
    int steps;               /* 0 when absent */
    double guidance;         /* < 0 when absent */
    json_t *metadata;        /* borrowed; NULL when absent */
    const char *webhook_url; /* a job's (api/jobs.c); NULL when absent */
    json_t *json;            /* the parsed body, owned */
    /* Edits and variations. */
    enum ig_operation op;
    int size_auto; /* size absent or "auto": adapters may leave it to the provider */
    struct ig_upload inputs[IG_MAX_INPUT_IMAGES];
    size_t ninputs;
    struct ig_upload mask;      /* mask.bytes NULL when none; applies to inputs[0] */
    double strength;            /* how far to move from the input, 0–1; < 0 when absent */
    const char *input_fidelity; /* NULL when absent */
    /* Set by the pipeline (provenance.prompt): an image's provenance may
     * carry the prompt's text, not only its SHA-256. */
    int provenance_prompt;
};

/* Parses and validates body. On success the request borrows strings from
 * req->json; release with ig_gen_request_release(). On failure err is
 * filled and nothing needs releasing. */
int ig_gen_request_parse(const char *body, size_t len, const struct ig_models *models,
                         struct ig_gen_request *req, struct ig_gen_error *err);
/* Parses and validates the form of an edit or a variation. Image parts
 * ("image", "image[]", "mask") move out of form into req; text parts are
 * read as the JSON fields of a generation would be. max_pixels bounds each
 * upload. Same ownership and errors as ig_gen_request_parse(). */
int ig_edit_request_parse(struct ig_form *form, enum ig_operation op, size_t max_pixels,
                          const struct ig_models *models, struct ig_gen_request *req,
                          struct ig_gen_error *err);
void ig_gen_request_release(struct ig_gen_request *req);
/* The prompt for a provider without its own styles: with the catalogue
 * style's suffix when the request names one, else the prompt. */
const char *ig_gen_request_prompt(const struct ig_gen_request *req);
/* The highest price of one image of req among its model's deployments
 * (any of them may serve it), in millicredits before any markup: 0 and
 * *unit, or IG_ENOTFOUND when one of them has no price for req's size and
 * quality (or the model has no deployment). Deployments of the providers
 * in free_providers (NULL-terminated; NULL: none) cost 0 and need no
 * price: the account brings its own key there (BYOK). */
int ig_gen_request_price(const struct ig_gen_request *req, const char *const *free_providers,
                         int64_t *unit);
/* "generation", "edit" or "variation". */
const char *ig_operation_name(enum ig_operation op);
/* The normalized request as compact JSON (malloc'd), for the history. */
char *ig_gen_request_normalized_json(const struct ig_gen_request *req);

#endif
