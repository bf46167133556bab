/* gen_error.h — why a generation failed, as a domain value.
 *
 * Every stage of the pipeline (request checks, admission, dispatch, the
 * store step) reports a failure as one of these: a kind, which says what
 * sort of failure it is; a stable machine-readable code; the parameter it
 * is about (if any); a message for people; the provider's own words when a
 * provider failed; and a retry hint. No HTTP here: api/errors.c is the one
 * table that turns a kind into a status and OpenAI's error type. */
#ifndef IG_GEN_ERROR_H
#define IG_GEN_ERROR_H

#include <stdarg.h>

/* X(name, text) — the kinds, in one list so names cannot drift. */
#define IG_GEN_ERROR_KINDS(X)                                                                      \
    X(NONE, "none")                 /* not a failure */                                            \
    X(INVALID, "invalid")           /* the request is wrong: fix it, then retry */                 \
    X(AUTH, "auth")                 /* no credentials, or wrong ones */                            \
    X(PERMISSION, "permission")     /* credentials without the right */                            \
    X(NOT_FOUND, "not_found")       /* the thing named does not exist */                           \
    X(QUOTA, "quota")               /* out of credits or budget */                                 \
    X(RATE_LIMITED, "rate_limited") /* too many requests for now */                                \
    X(REFUSED, "refused")           /* content refused by moderation or a provider */              \
    X(UPSTREAM, "upstream")         /* every provider failed */                                    \
    X(TIMEOUT, "timeout")           /* the deadline passed */                                      \
    X(UNAVAILABLE, "unavailable")   /* the gateway cannot take it now: retry later */              \
    X(CANCELED, "canceled")         /* whoever asked went away, or cancelled it */                 \
    X(INTERNAL, "internal")         /* the gateway's own fault */

#define IG_GEN_ERROR_ENUM(name, text) IG_GERR_##name,
enum ig_gen_error_kind { IG_GEN_ERROR_KINDS(IG_GEN_ERROR_ENUM) IG_GERR_COUNT };
#undef IG_GEN_ERROR_ENUM

struct ig_gen_error {
    enum ig_gen_error_kind kind;
    const char *code;   /* static: "model_not_found", "provider_error"; may be NULL */
    char param[64];     /* the request field at fault; empty: none */
    char message[700];  /* for people; lower-case start is not required */
    char provider[32];  /* the provider whose failure this is; empty: none */
    long retry_after_s; /* a hint for the client; -1: none */
};

/* Sets every field of e (param may be NULL; provider empty, no retry
 * hint): the one way every layer fills a domain error. */
void ig_gen_error_set(struct ig_gen_error *e, enum ig_gen_error_kind kind, const char *code,
                      const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void ig_gen_error_vset(struct ig_gen_error *e, enum ig_gen_error_kind kind, const char *code,
                       const char *param, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
/* "invalid", "upstream", …; "unknown" for a value outside the list. */
const char *ig_gen_error_kind_name(enum ig_gen_error_kind kind);

#endif
