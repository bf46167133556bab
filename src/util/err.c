/* err.c — messages for the IG_E* codes, generated from IG_ERRNO_MAP. */
#include "util/err.h"

const char *ig_strerror(int rc)
{
    switch (rc) {
    case IG_OK:
        return "success";
#define X(name, msg)                                                                               \
    case IG_E##name:                                                                               \
        return msg;
        IG_ERRNO_MAP(X)
#undef X
    default:
        return "unknown error";
    }
}
