#include "util/buf.h"
#include "util/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, append_within_max_keeps_nul)
{
    struct ig_buf b;
    ig_buf_init(&b, 8);
    cr_assert_eq(ig_buf_append(&b, "abcd", 4), 0);
    cr_assert_eq(ig_buf_puts(&b, "efgh"), 0);
    cr_assert_eq(b.len, 8);
    cr_assert_str_eq(b.data, "abcdefgh");
    ig_buf_release(&b);
}

Test(buf, append_past_max_fails_and_leaves_buffer)
{
    struct ig_buf b;
    ig_buf_init(&b, 5);
    cr_assert_eq(ig_buf_puts(&b, "abc"), 0);
    cr_assert_eq(ig_buf_puts(&b, "def"), IG_ETOOBIG);
    cr_assert_eq(b.len, 3);
    cr_assert_str_eq(b.data, "abc");
    cr_assert_eq(ig_buf_printf(&b, "%d", 123), IG_ETOOBIG);
    cr_assert_eq(ig_buf_printf(&b, "%d", 12), 0);
    cr_assert_str_eq(b.data, "abc12");
    ig_buf_release(&b);
}

Test(buf, huge_extra_does_not_overflow)
{
    struct ig_buf b;
    ig_buf_init(&b, 16);
    cr_assert_eq(ig_buf_reserve(&b, SIZE_MAX), IG_ETOOBIG);
    cr_assert_eq(ig_buf_reserve(&b, SIZE_MAX - 1), IG_ETOOBIG);
    ig_buf_release(&b);
}

Test(buf, json_escape)
{
    struct ig_buf b;
    ig_buf_init(&b, 100);
    const char in[] = "a\"b\\c\n\x01";
    cr_assert_eq(ig_buf_json_escape(&b, in, sizeof in - 1), 0);
    cr_assert_str_eq(b.data, "a\\\"b\\\\c\\u000a\\u0001");
    ig_buf_release(&b);
}

Test(buf, json_escape_copies_runs_and_stops_at_the_bound)
{
    struct ig_buf b;
    ig_buf_init(&b, 100);
    const char in[] = "abcdef\x7fghi\"";
    cr_assert_eq(ig_buf_json_escape(&b, in, sizeof in - 1), 0);
    cr_assert_str_eq(b.data, "abcdef\\u007fghi\\\"");
    cr_assert_eq(ig_buf_json_escape(&b, "", 0), 0);
    cr_assert_eq(b.len, strlen("abcdef\\u007fghi\\\""));
    ig_buf_release(&b);
    ig_buf_init(&b, 4);
    cr_assert_eq(ig_buf_json_escape(&b, "abcdef", 6), IG_ETOOBIG);
    cr_assert_eq(b.len, 0, "a run that does not fit is not cut");
    ig_buf_release(&b);
}

Test(buf, detach_hands_over)
{
    struct ig_buf b;
    ig_buf_init(&b, 100);
    ig_buf_puts(&b, "xyz");
    size_t n;
    char *p = ig_buf_detach(&b, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(p, "xyz");
    cr_assert_null(b.data);
    free(p);
}

Test(buf, fixed_memory_never_grows)
{
    char mem[8];
    struct ig_buf b;
    ig_buf_init_fixed(&b, mem, sizeof mem);
    cr_assert_eq(ig_buf_puts(&b, "abcdefg"), 0);
    cr_assert_eq(b.data, mem, "the caller's memory is used");
    cr_assert_eq(ig_buf_puts(&b, "h"), IG_ETOOBIG, "size - 1 bytes at most");
    cr_assert_eq(ig_buf_printf(&b, "%d", 1), IG_ETOOBIG);
    cr_assert_str_eq(mem, "abcdefg");
    cr_assert_eq(b.data, mem, "never reallocated");
}

Test(buf, json_escape_keeps_utf8_and_replaces_what_is_not)
{
    struct ig_buf b;
    ig_buf_init(&b, 256);
    /* é (2 bytes), € (3), 😀 (4), then a lone continuation byte, an
     * overlong '/', a surrogate, and a 3-byte character cut short. */
    const char in[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82";
    cr_assert_eq(ig_buf_json_escape(&b, in, sizeof in - 1), 0);
    cr_assert_str_eq(b.data, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|"
                             "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd");
    ig_buf_release(&b);
}

Test(buf, strlcpy_cuts_to_fit_and_says_how_long)
{
    char small[4];
    cr_assert_eq(ig_strlcpy(small, "abcdef", sizeof small), 6);
    cr_assert_str_eq(small, "abc");
    cr_assert_eq(ig_strlcpy(small, "ab", sizeof small), 2);
    cr_assert_str_eq(small, "ab");
    cr_assert_eq(ig_strlcpy(small, "", sizeof small), 0);
    cr_assert_str_eq(small, "");
    small[0] = 'x';
    cr_assert_eq(ig_strlcpy(small, "abc", 0), 3, "size 0 writes nothing");
    cr_assert_eq(small[0], 'x');
}

/* Long ASCII runs are checked a word at a time: a byte that is not ASCII
 * is found wherever it falls in or after them. */
Test(buf, utf8_valid_finds_a_bad_byte_anywhere_in_a_long_run)
{
    char s[100];
    for (size_t at = 0; at < sizeof s; at++) {
        memset(s, 'A', sizeof s);
        s[at] = (char)0x80; /* a continuation byte with no lead */
        cr_assert_not(ig_utf8_valid(s, sizeof s), "a lone continuation byte at %zu", at);
        cr_assert(ig_utf8_valid(s, at), "the run before it, %zu bytes", at);
        if (at + 2 <= sizeof s) {
            memcpy(s + at, "\xc3\xa9", 2); /* é */
            cr_assert(ig_utf8_valid(s, sizeof s), "a two-byte character at %zu", at);
            cr_assert_not(ig_utf8_valid(s, at + 1), "cut after its first byte at %zu", at);
        }
    }
    cr_assert_not(ig_utf8_valid("\xed\xa0\x80", 3), "a surrogate");
    cr_assert_not(ig_utf8_valid("\xf4\x90\x80\x80", 4), "past U+10FFFF");
    cr_assert_not(ig_utf8_valid("\xc0\xaf", 2), "an overlong form");
    cr_assert(ig_utf8_valid("\xf0\x9f\x98\x80", 4), "an emoji");
}

/* Appends into room already reserved are bounded by max all the same,
 * also when max is set after the room was made (the server sets a body's
 * limit per request). */
Test(buf, reserved_room_is_still_bounded_by_max)
{
    struct ig_buf b;
    ig_buf_init(&b, 100);
    cr_assert_eq(ig_buf_reserve(&b, 64), 0);
    b.max = 4;
    cr_assert_eq(ig_buf_append(&b, "abcde", 5), IG_ETOOBIG);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(ig_buf_append(&b, "abcd", 4), 0);
    cr_assert_eq(ig_buf_append(&b, "", 0), 0, "nothing always fits");
    cr_assert_eq(ig_buf_puts(&b, "e"), IG_ETOOBIG);
    cr_assert_str_eq(b.data, "abcd");
    ig_buf_release(&b);
    ig_buf_init(&b, 3);
    cr_assert_eq(ig_buf_append(&b, "", 0), 0, "an empty append to an empty buffer");
    cr_assert_str_eq(b.data, "");
    ig_buf_release(&b);
}

Test(buf, list_items_split_on_commas_and_spaces)
{
    const char *cursor = " a, bb,,c  ddd ,", *p;
    size_t n;
    const char *want[] = {"a", "bb", "c", "ddd"};
    for (int i = 0; i < 4; i++) {
        p = ig_list_next(&cursor, &n);
        cr_assert_not_null(p);
        cr_assert_eq(n, strlen(want[i]));
        cr_assert_eq(strncmp(p, want[i], n), 0, "item %d", i);
    }
    cr_assert_null(ig_list_next(&cursor, &n));
    cr_assert_null(ig_list_next(&cursor, &n), "the end stays the end");
    cursor = NULL;
    cr_assert_null(ig_list_next(&cursor, &n), "NULL is an empty list");
}

Test(buf, an_unbounded_maximum_grows_like_any_other)
{
    struct ig_buf b;
    ig_buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(ig_buf_puts(&b, "0123456789"), 0);
    cr_assert_eq(b.len, 10000);
    cr_assert_geq(b.cap, 10001);
    cr_assert_eq(b.data[9999], '9');
    ig_buf_release(&b);
}
