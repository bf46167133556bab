/* test_token.c — bearer tokens verify only as minted (any change of key
 * id, scopes, expiry or signature is refused), expire, and need the same
 * instance secret; and the style catalogue: built-ins, the config's
 * additions and replacements, and its refusals with file:line. */
#include "core/styles.h"
#include "core/token.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t secret[32] = {1, 2, 3};

Test(token, verifies_only_as_minted)
{
    char t[IG_TOKEN_MAX], kid[48];
    unsigned scopes = 0;
    int64_t exp = 0;
    cr_assert_eq(ig_token_mint(secret, sizeof secret, "key_abc", 1, 2000, t), 0);
    cr_assert_eq(strncmp(t, "igt_key_abc.1.2000.", 19), 0, "%s", t);
    cr_assert_eq(ig_token_verify(secret, sizeof secret, t, strlen(t), 1999, kid, &scopes, &exp), 0);
    cr_assert_str_eq(kid, "key_abc");
    cr_assert_eq(scopes, 1);
    cr_assert_eq(exp, 2000);
    cr_assert_eq(ig_token_verify(secret, sizeof secret, t, strlen(t), 2000, kid, &scopes, &exp),
                 IG_ERANGE, "expired at its expiry");
    const uint8_t other[32] = {9};
    cr_assert_eq(ig_token_verify(other, sizeof other, t, strlen(t), 1, kid, &scopes, &exp),
                 IG_EINVAL, "another instance's secret");
    const char *changes[][2] = {{".1.", ".3."}, {"key_abc", "key_abd"}, {".2000.", ".9000."}};
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        char bad[IG_TOKEN_MAX];
        strcpy(bad, t);
        char *at = strstr(bad, changes[i][0]);
        memcpy(at, changes[i][1], strlen(changes[i][1]));
        cr_assert_eq(
            ig_token_verify(secret, sizeof secret, bad, strlen(bad), 1, kid, &scopes, &exp),
            IG_EINVAL, "%s", bad);
    }
    char bad[IG_TOKEN_MAX];
    strcpy(bad, t);
    bad[strlen(bad) - 1] ^= 1;
    cr_assert_eq(ig_token_verify(secret, sizeof secret, bad, strlen(bad), 1, kid, &scopes, &exp),
                 IG_EINVAL);
    cr_assert_eq(ig_token_verify(secret, sizeof secret, t, strlen(t) - 1, 1, kid, &scopes, &exp),
                 IG_EINVAL, "truncated");
    cr_assert_eq(ig_token_mint(secret, sizeof secret, "key.dot", 1, 2000, t), IG_EINVAL);
    cr_assert_eq(ig_token_mint(secret, sizeof secret, "", 1, 2000, t), IG_EINVAL);
    cr_assert(!ig_token_like("ig_abc", 6));
}

static char *write_config(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/igstylesXXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(styles, builtins_and_the_configs)
{
    struct ig_styles *s;
    char err[256];
    cr_assert_eq(ig_styles_load(NULL, &s, err, sizeof err), 0);
    const struct ig_style *p = ig_styles_find(s, "photorealistic");
    cr_assert_not_null(p);
    cr_assert_str_eq(p->stability, "photographic");
    cr_assert_str_eq(p->leonardo, "PHOTOGRAPHY");
    cr_assert_null(ig_styles_find(s, "noir"));
    ig_styles_free(s);
    char *path = write_config("styles:\n  - name: noir\n    prompt_suffix: film noir\n"
                              "  - name: anime\n    stability: comic-book\n"
                              "    prompt_suffix: manga\n");
    cr_assert_eq(ig_styles_load(path, &s, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(ig_styles_find(s, "noir")->suffix, "film noir");
    cr_assert_null(ig_styles_find(s, "noir")->stability);
    cr_assert_str_eq(ig_styles_find(s, "anime")->stability, "comic-book", "replaced");
    char names[512];
    ig_styles_names(s, names, sizeof names);
    cr_assert(strstr(names, "noir") && strstr(names, "watercolor"), "%s", names);
    ig_styles_free(s);
    unlink(path);
    const char *bad[] = {
        "styles:\n  - name: Noir!\n    prompt_suffix: x\n", "styles:\n  - name: noir\n",
        "styles:\n  - name: noir\n    prompt_suffix: x\n    colour: red\n", "styles: 5\n", NULL};
    for (int i = 0; bad[i]; i++) {
        path = write_config(bad[i]);
        err[0] = '\0';
        cr_assert_eq(ig_styles_load(path, &s, err, sizeof err), IG_ECONFIG, "%s", bad[i]);
        cr_assert(strstr(err, path) && strchr(err, ':'), "names the file and line: %s", err);
        unlink(path);
    }
}
