/* gen_error.c — setting and naming domain errors; see gen_error.h. */
#include "core/gen_error.h"

#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ig_gen_error_vset(struct ig_gen_error *e, enum ig_gen_error_kind kind, const char *code,
                       const char *param, const char *fmt, va_list ap)
{
    e->kind = kind;
    e->code = code;
    ig_strlcpy(e->param, param ? param : "", sizeof e->param);
    e->provider[0] = '\0';
    e->retry_after_s = -1;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

void ig_gen_error_set(struct ig_gen_error *e, enum ig_gen_error_kind kind, const char *code,
                      const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ig_gen_error_vset(e, kind, code, param, fmt, ap);
    va_end(ap);
}

#define IG_GEN_ERROR_NAME(name, text) text,
static const char *const kind_names[] = {IG_GEN_ERROR_KINDS(IG_GEN_ERROR_NAME)};
#undef IG_GEN_ERROR_NAME

const char *ig_gen_error_kind_name(enum ig_gen_error_kind kind)
{
    return (unsigned)kind < IG_GERR_COUNT ? kind_names[kind] : "unknown";
}
