/* err.h — the one error convention: 0 is success, a negative IG_E* code is
 * failure. The codes and their messages come from one X-macro list, so the
 * enum and ig_strerror() can never disagree. */
#ifndef IG_ERR_H
#define IG_ERR_H

#define IG_ERRNO_MAP(X)                                                                            \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(IO, "input/output error")                                                                    \
    X(NOTFOUND, "not found")                                                                       \
    X(TOOBIG, "too big")                                                                           \
    X(EXISTS, "already exists")                                                                    \
    X(DB, "database error")                                                                        \
    X(CODEC, "image codec error")                                                                  \
    X(CRYPTO, "cryptography failure")                                                              \
    X(CONFIG, "bad configuration")                                                                 \
    X(BUSY, "resource busy")                                                                       \
    X(RANGE, "value out of range")                                                                 \
    X(AGAIN, "try again")                                                                          \
    X(CONFLICT, "conflicts with the current state")                                                \
    X(FUNDS, "insufficient credits")                                                               \
    X(BUDGET, "budget exceeded")

enum ig_errno_index {
    IG__EINDEX_NONE = 0,
#define X(name, msg) IG__EINDEX_##name,
    IG_ERRNO_MAP(X)
#undef X
};

enum ig_errno {
    IG_OK = 0,
#define X(name, msg) IG_E##name = -IG__EINDEX_##name,
    IG_ERRNO_MAP(X)
#undef X
};

/* Returns a static message for any value; unknown codes give "unknown error". */
const char *ig_strerror(int rc);

#endif
