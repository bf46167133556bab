/* common.h — small helpers the network adapters share (not a public
 * surface: only providers/ includes it). */
#ifndef IG_PROVIDERS_COMMON_H
#define IG_PROVIDERS_COMMON_H

#include "providers/provider.h"

#include <jansson.h>

/* Sets out's method and URL to api_base (without trailing slashes) + path,
 * and the timeout and answer bound. 0 or IG_ENOMEM. */
int ig_provider_request(struct ig_upstream_request *out, const char *method,
                        const struct ig_deployment *d, const char *path, size_t max_answer);
/* A request to a URL the provider handed back (a poll, a result, a
 * cancel): method, url (http or https only: IG_EINVAL otherwise), a 30 s
 * timeout and the answer bound. The caller adds its own auth. 0 or IG_E*. */
int ig_provider_url_request(struct ig_upstream_request *r, const char *method, const char *url,
                            size_t max_answer);
/* Marks out pending: poll again after after_ms (out->poll, when set, is
 * the next request; otherwise the dispatcher repeats its last poll); its
 * queue position and percent unknown until the adapter sets them. */
void ig_provider_pending(struct ig_provider_result *out, long after_ms);
/* An aspect ratio a provider offers ("16:9" is 16 by 9). */
struct ig_aspect_ratio {
    const char *name;
    int w, h;
};
/* The one of list (n ≥ 1) nearest width/height. */
const char *ig_nearest_aspect_ratio(int width, int height, const struct ig_aspect_ratio *list,
                                    size_t n);
/* The aspect ratio Stability and Replicate offer that is nearest
 * width/height ("16:9"). */
const char *ig_stability_aspect_ratio(int width, int height);
/* Stores a malloc'd JSON text as the body with its Content-Type. */
int ig_provider_json_body(struct ig_upstream_request *out, json_t *body);
/* Adds "Authorization: <scheme> <key>" (nothing when key is empty). */
int ig_provider_auth(struct ig_upstream_request *r, const char *scheme, const char *key);
/* The start of every parse(): clears out, classifies a transport failure,
 * parses the body as JSON into *root (NULL when it is not JSON; the caller
 * releases it). Returns 1 for a 2xx answer, to be read by the adapter; 0
 * when out already describes the failure, with the message taken from the
 * usual error shapes ({"error":{"message"}}, {"error":"…"}, {"detail":"…" |
 * [{"msg"}]}, {"message"}, {"title"}), which adapters may refine. */
int ig_provider_parse_begin(const struct ig_upstream_result *res, struct ig_provider_result *out,
                            json_t **root);
/* Multipart bodies (edits): mp's fields from a flat JSON object (strings,
 * integers, reals and booleans as text), the uploads (each input image
 * under image_name, the mask as "mask"), and the finished body handed to
 * out with its Content-Type. 0 or IG_E*. */
struct ig_multipart;
int ig_provider_form_fields(struct ig_multipart *mp, json_t *fields);
int ig_provider_form_uploads(struct ig_multipart *mp, const struct ig_gen_request *req,
                             const char *image_name);
int ig_provider_form_body(struct ig_upstream_request *out, struct ig_multipart *mp);
/* Keeps a base64 image's text in im for the store step to decode: the
 * JSON string itself (a reference: an answer's image is not copied), or a
 * copy of text that is part of one (a data URI's). 0, or IG_EINVAL when it
 * cannot be base64 (not a string, empty, or a length that is not a
 * multiple of 4), or IG_ENOMEM. */
int ig_provider_b64_image(struct ig_provider_image *im, json_t *str);
int ig_provider_b64_text(struct ig_provider_image *im, const char *b64);
/* An image given by URL: a data URI's base64 kept as text, any other URL
 * to download. 0, IG_EINVAL for a data URI that is not base64, IG_ENOMEM. */
int ig_provider_url_image(struct ig_provider_image *im, const char *url);
/* The format im's leading bytes claim (ig_sniff), from its bytes or by
 * decoding only the first characters of its base64; IG_FMT_UNKNOWN when it
 * has neither or they are not an image's. */
enum ig_format ig_provider_image_sniff(const struct ig_provider_image *im);
/* Decodes im's base64 into im->bytes (keeping the text); 0 when im has
 * bytes already or now, IG_EINVAL when the text is not base64, IG_ENOMEM. */
int ig_provider_image_decode(struct ig_provider_image *im);
/* Whether im's base64 text is exactly what ig_base64_encode makes of its
 * bytes (padded, no line breaks, zero bits after the last byte), so it can
 * be handed to a client as it came instead of being encoded again. */
int ig_provider_image_b64_canonical(const struct ig_provider_image *im);
/* Marks out as a retryable "malformed answer" with message. */
void ig_provider_malformed(struct ig_provider_result *out, const char *message);

#endif
