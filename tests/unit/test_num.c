#include "util/err.h"
#include "util/num.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int parse(const char *s, int64_t min, int64_t max, int64_t *out)
{
    return ig_parse_i64(s, strlen(s), min, max, out);
}

Test(num, parses_in_range)
{
    int64_t v;
    cr_assert_eq(parse("42", 0, 100, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(parse("-7", -10, 10, &v), 0);
    cr_assert_eq(v, -7);
    cr_assert_eq(parse("9223372036854775807", 0, INT64_MAX, &v), 0);
    cr_assert_eq(v, INT64_MAX);
}

Test(num, rejects_garbage_and_range)
{
    int64_t v = 99;
    cr_assert_eq(parse("", 0, 10, &v), IG_EINVAL);
    cr_assert_eq(parse("-", 0, 10, &v), IG_EINVAL);
    cr_assert_eq(parse("12a", 0, 100, &v), IG_EINVAL);
    cr_assert_eq(parse(" 1", 0, 100, &v), IG_EINVAL);
    cr_assert_eq(parse("101", 0, 100, &v), IG_ERANGE);
    cr_assert_eq(parse("99999999999999999999", 0, INT64_MAX, &v), IG_ERANGE);
    cr_assert_eq(v, 99, "a failed parse must not write the output");
}

Test(num, sizes)
{
    int w, h;
    cr_assert_eq(ig_parse_size("1024x768", 64, 2048, &w, &h), 0);
    cr_assert_eq(w, 1024);
    cr_assert_eq(h, 768);
    cr_assert_eq(ig_parse_size("64X64", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("63x64", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("4096x64", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("1024", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("x1024", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("+100x100", 64, 2048, &w, &h), 0);
    cr_assert_neq(ig_parse_size("100x100x100", 64, 2048, &w, &h), 0);
}

Test(num, format_u64_is_printf_without_printf)
{
    const uint64_t values[] = {0, 7, 10, 999, 1000, 123456789, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char got[24], want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)values[i]);
        cr_assert_eq(ig_format_u64(values[i], got), strlen(want));
        cr_assert_str_eq(got, want);
    }
}
