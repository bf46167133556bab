/* The event-stream framing used to relay and read providers' streams. */
#include "util/sse.h"

#include <criterion/criterion.h>
#include <string.h>

static int name_is(const struct ig_sse_event *ev, const char *want)
{
    return ev->name_len == strlen(want) && memcmp(ev->name, want, ev->name_len) == 0;
}

Test(sse, splits_events_and_reads_fields)
{
    const char s[] = "event: a.partial_image\ndata: {\"x\":1}\n\n"
                     "event:b.completed\r\ndata:{}\r\n\r\n"
                     "event: c\ndata: inco";
    struct ig_sse_event ev;
    size_t off = 0, used = ig_sse_next(s, sizeof s - 1, &ev);
    cr_assert_gt(used, 0);
    cr_assert(name_is(&ev, "a.partial_image"));
    cr_assert_eq(ev.data_len, 7);
    cr_assert_eq(memcmp(ev.data, "{\"x\":1}", 7), 0);
    cr_assert_eq(ev.block_len, used - 2, "the block excludes its blank line");
    cr_assert(ig_sse_name_ends(&ev, ".partial_image"));
    cr_assert_not(ig_sse_name_ends(&ev, ".completed"));
    off += used;
    used = ig_sse_next(s + off, sizeof s - 1 - off, &ev);
    cr_assert_gt(used, 0);
    cr_assert(name_is(&ev, "b.completed"), "CRLF lines and no space after the colon");
    cr_assert_eq(ev.data_len, 2);
    off += used;
    cr_assert_eq(ig_sse_next(s + off, sizeof s - 1 - off, &ev), 0, "an incomplete event waits");
}

Test(sse, events_without_a_name_or_data)
{
    const char s[] = ": a comment\n\n";
    struct ig_sse_event ev;
    cr_assert_eq(ig_sse_next(s, sizeof s - 1, &ev), sizeof s - 1);
    cr_assert_eq(ev.name_len, 0);
    cr_assert_str_eq(ev.data, "");
    cr_assert_not(ig_sse_name_ends(&ev, ".completed"));
    cr_assert_eq(ig_sse_next("", 0, &ev), 0);
    cr_assert_eq(ig_sse_next("\n", 1, &ev), 0);
}
