/* Multipart/form-data parsing (GMime) against bodies our own writer makes
 * and hand-written hostile ones. */
#include "util/err.h"
#include "util/formdata.h"
#include "util/multipart.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static int parse(const char *ct, const char *body, size_t len, struct ig_form *f, char *why)
{
    return ig_formdata_parse(ct, strlen(ct), body, len, 16, f, why, 256);
}

Test(formdata, round_trip_text_and_binary_file)
{
    /* Binary content holding NULs, CRLFs and a boundary-like line. */
    const unsigned char png[] = {0x89, 'P',  'N', 'G', '\r', '\n', 0x1a, '\n', 0,   0,
                                 '\r', '\n', '-', '-', 'x',  '\r', '\n', '\r', '\n'};
    struct ig_multipart m;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    cr_assert_eq(ig_multipart_field(&m, "prompt", "a red fox"), 0);
    cr_assert_eq(ig_multipart_file(&m, "image[]", "a.png", "image/png", png, sizeof png), 0);
    cr_assert_eq(ig_multipart_field(&m, "n", "2"), 0);
    cr_assert_eq(ig_multipart_finish(&m), 0);

    struct ig_form f;
    char why[256];
    int rc = parse(m.content_type, m.body.data, m.body.len, &f, why);
    cr_assert_eq(rc, 0, "%s", why);
    cr_assert_eq(f.n, 3);
    const struct ig_form_field *p = ig_form_get(&f, "prompt");
    cr_assert_not_null(p);
    cr_assert_null(p->filename);
    cr_assert_str_eq((const char *)p->data, "a red fox");
    const struct ig_form_field *img = ig_form_get(&f, "image[]");
    cr_assert_not_null(img);
    cr_assert_str_eq(img->filename, "a.png");
    cr_assert_str_eq(img->content_type, "image/png");
    cr_assert_eq(img->len, sizeof png);
    cr_assert_eq(memcmp(img->data, png, sizeof png), 0);
    cr_assert_str_eq((const char *)ig_form_get(&f, "n")->data, "2");
    cr_assert_null(ig_form_get(&f, "mask"));
    ig_form_release(&f);
    ig_multipart_release(&m);
}

Test(formdata, base64_transfer_encoding_is_decoded)
{
    const char body[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n"
                        "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n";
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse("multipart/form-data; boundary=b", body, sizeof body - 1, &f, why), 0, "%s",
                 why);
    cr_assert_str_eq((const char *)f.fields[0].data, "hello");
    ig_form_release(&f);
}

Test(formdata, refuses_other_content_types)
{
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse("application/json", "{}", 2, &f, why), IG_EINVAL);
    cr_assert(strstr(why, "multipart/form-data"));
    cr_assert_eq(parse("multipart/form-data\r\nX-Evil: 1; boundary=b", "", 0, &f, why), IG_EINVAL);
    cr_assert_eq(f.n, 0);
}

Test(formdata, refuses_missing_boundary_and_empty_bodies)
{
    struct ig_form f;
    char why[256];
    const char body[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n";
    cr_assert_eq(parse("multipart/form-data", body, sizeof body - 1, &f, why), IG_EINVAL);
    cr_assert_eq(parse("multipart/form-data; boundary=zzz", body, sizeof body - 1, &f, why),
                 IG_EINVAL, "a body without the announced boundary has no parts");
    cr_assert_eq(parse("multipart/form-data; boundary=b", "", 0, &f, why), IG_EINVAL);
}

Test(formdata, refuses_parts_without_a_name)
{
    const char body[] = "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse("multipart/form-data; boundary=b", body, sizeof body - 1, &f, why),
                 IG_EINVAL);
    cr_assert(strstr(why, "Content-Disposition"), "%s", why);
    const char attach[] =
        "--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nh\r\n--b--\r\n";
    cr_assert_eq(parse("multipart/form-data; boundary=b", attach, sizeof attach - 1, &f, why),
                 IG_EINVAL);
}

Test(formdata, refuses_nested_multiparts)
{
    const char body[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n"
                        "Content-Type: multipart/mixed; boundary=c\r\n\r\n"
                        "--c\r\nContent-Type: text/plain\r\n\r\nin\r\n--c--\r\n--b--\r\n";
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse("multipart/form-data; boundary=b", body, sizeof body - 1, &f, why),
                 IG_EINVAL);
    cr_assert(strstr(why, "nested"), "%s", why);
}

Test(formdata, bounds_the_number_of_parts)
{
    struct ig_multipart m;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    for (int i = 0; i < 17; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        cr_assert_eq(ig_multipart_field(&m, name, "v"), 0);
    }
    cr_assert_eq(ig_multipart_finish(&m), 0);
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse(m.content_type, m.body.data, m.body.len, &f, why), IG_EINVAL);
    cr_assert(strstr(why, "at most 16"), "%s", why);
    ig_multipart_release(&m);
}

Test(formdata, bounds_text_fields_but_not_files)
{
    static char big[IG_FORM_TEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    struct ig_multipart m;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    cr_assert_eq(
        ig_multipart_file(&m, "image", "x.bin", "application/octet-stream", big, sizeof big - 1),
        0);
    cr_assert_eq(ig_multipart_finish(&m), 0);
    struct ig_form f;
    char why[256];
    cr_assert_eq(parse(m.content_type, m.body.data, m.body.len, &f, why), 0, "%s", why);
    cr_assert_eq(f.fields[0].len, sizeof big - 1);
    ig_form_release(&f);
    ig_multipart_release(&m);

    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    cr_assert_eq(ig_multipart_field(&m, "prompt", big), 0);
    cr_assert_eq(ig_multipart_finish(&m), 0);
    cr_assert_eq(parse(m.content_type, m.body.data, m.body.len, &f, why), IG_EINVAL);
    cr_assert(strstr(why, "longer than"), "%s", why);
    ig_multipart_release(&m);
}

Test(formdata, writer_refuses_values_that_would_break_the_body)
{
    struct ig_multipart m;
    cr_assert_eq(ig_multipart_init(&m, 1 << 20), 0);
    cr_assert_eq(ig_multipart_file(&m, "image", "a\".png", "image/png", "x", 1), IG_EINVAL);
    cr_assert_eq(
        ig_multipart_file(&m, "image", "a.png", "image/png", m.boundary, strlen(m.boundary)),
        IG_EINVAL);
    ig_multipart_release(&m);
}
