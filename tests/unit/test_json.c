/* ig_json_loadb must accept exactly what json_loadb accepts and build the
 * same values: held to it on a corpus of edge cases, on random documents,
 * and on random damage to them. */
#include "util/err.h"
#include "util/json.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const size_t flag_sets[] = {0, JSON_REJECT_DUPLICATES, JSON_DECODE_ANY,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY};

/* Both parsers on the same bytes, under each flag set: both fail, or both
 * give equal values. Returns how many flag sets accepted the text. */
static int same(const char *text, size_t len)
{
    int accepted = 0;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        json_error_t e1, e2;
        json_t *a = json_loadb(text, len, flag_sets[i], &e1);
        json_t *b = ig_json_loadb(text, len, flag_sets[i], &e2);
        cr_assert_eq(a == NULL, b == NULL, "flags %zu, %.*s: jansson %s, ours %s", flag_sets[i],
                     (int)(len > 200 ? 200 : len), text, a ? "accepts" : e1.text,
                     b ? "accepts" : e2.text);
        if (a) {
            cr_assert(json_equal(a, b), "flags %zu: different values for %.*s", flag_sets[i],
                      (int)(len > 200 ? 200 : len), text);
            accepted++;
        } else {
            cr_assert_neq(e2.text[0], '\0', "a failure says why");
        }
        json_decref(a);
        json_decref(b);
    }
    return accepted;
}

static int same_str(const char *text)
{
    return same(text, strlen(text));
}

Test(json, edge_cases_match_jansson)
{
    static const char *const corpus[] = {
        "{}",
        "[]",
        " [ ] ",
        "{\"a\":1}",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]}}",
        "[true,false,null]",
        "[0,-0,1,-1,9223372036854775807,-9223372036854775808]",
        "[9223372036854775808]",
        "[-9223372036854775809]",
        "[1.5,-0.0,1e10,1E-5,2.5e+3]",
        "[1e400]",
        "[-1e400]",
        "[1e-400]",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[+1]",
        "[0x10]",
        "[\"\\u00e9\\u4e2d\\ud83d\\ude00\"]",
        "[\"\\ud83d\"]",
        "[\"\\ude00\"]",
        "[\"\\ud83dx\"]",
        "[\"\\u0000\"]",
        "[\"a\\u0000b\"]",
        "{\"\\u0000\":1}",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
        "[\"\\x\"]",
        "[\"tab\there\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xff\"]",
        "[\"\xc3\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xc0\xaf\"]",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"\":0}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "",
        " ",
        "\n",
        "nul",
        "null",
        "true",
        "1",
        "\"s\"",
        "[] []",
        "[]x",
        "{}\n\n ",
        "[1]\0",
        "/*c*/[]",
        "[\"unterminated",
        "{\"a\":[1,2",
        "[[[[[[[[[[]]]]]]]]]]",
        "\xef\xbb\xbf[]",
        "[1e5, 1.0e+5, 100000.0]",
        "{\"k\":\"v\",\"n\":{\"m\":[[],{}]}}",
    };
    int accepted = 0;
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
        accepted += same_str(corpus[i]);
    cr_assert_gt(accepted, 40, "the corpus has valid documents too");
    same("[1]\0", 4); /* a NUL after the value */
}

Test(json, nesting_limit_matches)
{
    static char deep[2 * 3000 + 1];
    for (int depth = 2040; depth <= 2060; depth += 4) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        same(deep, 2 * (size_t)depth);
    }
}

Test(json, keys_survive_the_stack_growing_under_them)
{
    /* Objects nested past the builder's first stack sizes (16, 32), each
     * with a key pending while its child is opened: short keys and keys too
     * long for the inline buffer. */
    static char text[64 * 1024];
    size_t len = 0;
    for (int i = 0; i < 70; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "{\"%s%d\":",
                                i % 3 ? "k" : "a-key-long-enough-not-to-fit-the-inline-buffer-", i);
    len += (size_t)snprintf(text + len, sizeof text - len, "[1,\"x\"]");
    for (int i = 0; i < 70; i++)
        text[len++] = '}';
    cr_assert_eq(same(text, len), 4, "valid under every flag set");
}

/* A small deterministic PRNG (xorshift), so failures reproduce. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static json_t *random_string(void)
{
    static const char *const pieces[] = {
        "a",           "Z",   " ",    "\"",       "\\",           "/",
        "\n",          "\t",  "\x01", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
        "iVBORw0KGgo", "+/=", "\x7f"};
    char s[256];
    size_t len = 0, n = next() % 12;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[next() % (sizeof pieces / sizeof pieces[0])];
        size_t pl = strlen(p);
        if (len + pl >= sizeof s)
            break;
        memcpy(s + len, p, pl);
        len += pl;
    }
    return json_stringn(s, len);
}

static json_t *random_value(int depth)
{
    switch (next() % (depth > 4 ? 5 : 7)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(next() & 1);
    case 2: {
        static const json_int_t ints[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, 1 << 30};
        return json_integer(next() & 1 ? ints[next() % 7] : (json_int_t)next());
    }
    case 3:
        return json_real((double)(int64_t)next() / (double)(1 + next() % 1000000));
    case 4:
        return random_string();
    case 5: {
        json_t *a = json_array();
        for (uint64_t i = next() % 5; i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint64_t i = next() % 5; i > 0; i--) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

Test(json, random_documents_and_damage_to_them_match_jansson)
{
    static const size_t dump_flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII,
                                        JSON_COMPACT | JSON_ENSURE_ASCII};
    int damaged_accepted = 0;
    for (int doc = 0; doc < 600; doc++) {
        json_t *v = json_object();
        json_object_set_new(v, "data", random_value(0));
        char *text = json_dumps(v, dump_flags[doc % 4]);
        cr_assert_not_null(text);
        size_t len = strlen(text);
        json_t *back = ig_json_loadb(text, len, 0, NULL);
        cr_assert(json_equal(v, back), "round trip of %s", text);
        json_decref(back);
        same(text, len);
        /* Damage: drop, replace or insert one byte, eight times over. */
        for (int m = 0; m < 8; m++) {
            char bad[4096];
            if (len + 2 > sizeof bad)
                break;
            memcpy(bad, text, len);
            size_t n = len, at = next() % len;
            static const char bytes[] = "{}[]\",:\\u0e1-. \xc3\xff\n";
            char c = bytes[next() % (sizeof bytes - 1)];
            switch (next() % 3) {
            case 0:
                memmove(bad + at, bad + at + 1, n - at - 1);
                n--;
                break;
            case 1:
                bad[at] = c;
                break;
            default:
                memmove(bad + at + 1, bad + at, n - at);
                bad[at] = c;
                n++;
            }
            damaged_accepted += same(bad, n) > 0;
        }
        free(text);
        json_decref(v);
    }
    cr_assert_gt(damaged_accepted, 0, "some damage still leaves valid JSON");
}

/* ig_json_dumps writes text that jansson reads back as the same value. */
static void dumps_round_trip(json_t *v)
{
    size_t len = 0;
    char *text = ig_json_dumps(v, &len);
    cr_assert_not_null(text);
    cr_assert_eq(len, strlen(text));
    json_error_t e;
    json_t *back = json_loadb(text, len, JSON_DECODE_ANY, &e);
    cr_assert_not_null(back, "%s: %s", text, e.text);
    cr_assert(json_equal(v, back), "round trip of %s", text);
    json_decref(back);
    free(text);
}

Test(json, dumps_reads_back_the_same)
{
    for (int doc = 0; doc < 600; doc++) {
        json_t *v = random_value(0);
        dumps_round_trip(v);
        json_decref(v);
    }
    json_t *edge = json_pack("[f, f, f, f, I, I, s, s#]", 0.1, 1e300, -2.5e-300, 3.0,
                             (json_int_t)INT64_MAX, (json_int_t)INT64_MIN,
                             "\x01\x1f\"\\/\x7f\xc3\xa9\xf0\x9f\x98\x80", "", (size_t)0);
    dumps_round_trip(edge);
    char *text = ig_json_dumps(edge, NULL);
    cr_assert(strstr(text, "3.0"), "a whole real keeps its fraction: %s", text);
    free(text);
    json_decref(edge);
}

Test(json, dumps_refuses_what_it_cannot_write)
{
    cr_assert_null(ig_json_dumps(NULL, NULL));
    json_t *deep = json_array(), *at = deep;
    for (int i = 0; i < IG_JSON_MAX_DUMP_DEPTH + 5; i++) {
        json_t *next = json_array();
        json_array_append_new(at, next);
        at = next;
    }
    cr_assert_null(ig_json_dumps(deep, NULL), "deeper than the generator goes");
    json_decref(deep);
}

Test(json, errors_say_where)
{
    json_error_t e;
    cr_assert_null(ig_json_loadb("{\n  \"a\": 1,\n  \"b\": ]\n}", 22, 0, &e));
    cr_assert_eq(e.line, 3);
    cr_assert_gt(e.column, 0);
    cr_assert_null(ig_json_loadb("{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, &e));
    cr_assert_str_eq(e.text, "duplicate object key");
    cr_assert_null(ig_json_loadb("[\"\\u0000\"]", 10, 0, &e));
    cr_assert(strstr(e.text, "\\u0000"), "%s", e.text);
}

Test(json, writer_builds_members_in_order)
{
    struct ig_buf b;
    ig_buf_init(&b, 1 << 16);
    json_t *extra = json_pack("{s:[i,s]}", "k", 1, "v");
    struct ig_jw w;
    ig_jw_begin(&w, &b);
    ig_jw_str(&w, "s", "quote \" and \xc3\xa9 and \n");
    ig_jw_str(&w, "none", NULL);
    ig_jw_int(&w, "neg", -42);
    ig_jw_int(&w, "min", INT64_MIN);
    ig_jw_real(&w, "real", 0.5);
    ig_jw_real(&w, "whole", 2.0);
    ig_jw_bool(&w, "yes", 1);
    ig_jw_bool(&w, "no", 0);
    ig_jw_open(&w, "list", '[');
    ig_jw_int(&w, NULL, 1);
    ig_jw_value(&w, NULL, NULL);
    ig_jw_open(&w, NULL, '{');
    ig_jw_close(&w, '}');
    ig_jw_close(&w, ']');
    ig_jw_open(&w, "empty", '[');
    ig_jw_close(&w, ']');
    ig_jw_value(&w, "extra", extra);
    cr_assert_eq(ig_jw_end(&w), 0);
    cr_assert_str_eq(b.data,
                     "{\"s\":\"quote \\\" and \xc3\xa9 and \\u000a\",\"none\":null,\"neg\":-42,"
                     "\"min\":-9223372036854775808,\"real\":0.5,\"whole\":2.0,"
                     "\"yes\":true,\"no\":false,\"list\":[1,null,{}],\"empty\":[],"
                     "\"extra\":{\"k\":[1,\"v\"]}}");
    json_t *back = ig_json_loadb(b.data, b.len, 0, NULL);
    cr_assert_not_null(back);
    cr_assert_eq(json_integer_value(json_object_get(back, "min")), INT64_MIN);
    cr_assert(json_equal(json_object_get(back, "extra"), extra));
    json_decref(back);
    json_decref(extra);
    ig_buf_release(&b);
}

Test(json, writer_failure_sticks)
{
    struct ig_buf b;
    ig_buf_init(&b, 16);
    struct ig_jw w;
    ig_jw_begin(&w, &b);
    ig_jw_str(&w, "a", "b");
    ig_jw_str(&w, "long", "more than sixteen bytes");
    size_t at = b.len;
    ig_jw_int(&w, "c", 1); /* would fit, but the writer has failed */
    cr_assert_eq(b.len, at);
    cr_assert_eq(ig_jw_end(&w), IG_ETOOBIG);
    ig_buf_release(&b);
}

/* yajl takes \v and \f for white space; JSON and jansson do not (found by
 * tests/fuzz/fuzz_json; the input is in its corpus). */
Test(json, vertical_tab_and_form_feed_are_not_white_space)
{
    const char *texts[] = {"[\v]", "[\f1]", "{\"a\":\v1}", "\f{}", "[\"a\vb\"]", "[1]\v"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_error_t e;
        cr_assert_null(json_loadb(texts[i], strlen(texts[i]), 0, &e), "jansson: %zu", i);
        cr_assert_null(ig_json_loadb(texts[i], strlen(texts[i]), 0, &e), "ours: %zu", i);
        cr_assert_gt(strlen(e.text), 0);
    }
    json_t *ok = ig_json_loadb("[ \t\r\n1]", 7, 0, NULL);
    cr_assert_not_null(ok, "the four white-space characters still are");
    json_decref(ok);
}

/* yajl did not look at a string begun after the top-level value (found by
 * tests/fuzz/fuzz_json; the input is in its corpus). */
Test(json, a_string_left_open_after_the_value_is_refused)
{
    const char *bad[] = {"[1] \"abc", "{\"a\":1} \"", "[1,{}]\":[{}]}]", "[] \"\\\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t e;
        cr_assert_null(json_loadb(bad[i], strlen(bad[i]), 0, &e), "jansson: %s", bad[i]);
        cr_assert_null(ig_json_loadb(bad[i], strlen(bad[i]), 0, &e), "ours: %s", bad[i]);
    }
    const char *good[] = {"[\"a\\\"b\"]", "[\"a\\\\\"]", "{\"\\\"\":\"\"}"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *v = ig_json_loadb(good[i], strlen(good[i]), 0, NULL);
        cr_assert_not_null(v, "%s", good[i]);
        json_decref(v);
    }
}
