/* The address policy's pieces (private and metadata addresses, the
 * operator's allow-list of networks) and the checks on a request's header
 * lines. */
#include "upstream/upstream.h"
#include "util/err.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

/* The address of text, in one of a few rotating slots (enough for one
 * assertion's arguments). */
static const struct sockaddr *SA(const char *text)
{
    static struct sockaddr_storage slots[4];
    static int next;
    struct sockaddr_storage *ss = &slots[next++ % 4];
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1)
        in4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        cr_assert_fail("bad test address %s", text);
    return (const struct sockaddr *)ss;
}

Test(networks, allow_list_matches_by_prefix)
{
    struct ig_networks n;
    char err[160];
    cr_assert_eq(ig_networks_parse(" 10.0.0.0/8,192.168.1.7 , fd12:3456::/32,172.16.0.0/13", &n,
                                   err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n.n, 4);
    cr_assert(ig_networks_contain(&n, SA("10.200.3.4")));
    cr_assert(ig_networks_contain(&n, SA("192.168.1.7")));
    cr_assert_not(ig_networks_contain(&n, SA("192.168.1.8")), "a bare address is one host");
    cr_assert(ig_networks_contain(&n, SA("fd12:3456:ffff::1")));
    cr_assert_not(ig_networks_contain(&n, SA("fd12:3457::1")));
    cr_assert(ig_networks_contain(&n, SA("172.23.255.255")), "/13 keeps 172.16-23");
    cr_assert_not(ig_networks_contain(&n, SA("172.24.0.1")));
    cr_assert_not(ig_networks_contain(&n, SA("11.0.0.1")));
    cr_assert_not(ig_networks_contain(NULL, SA("10.0.0.1")));
    cr_assert_eq(ig_networks_parse("", &n, err, sizeof err), 0);
    cr_assert_eq(n.n, 0);
}

Test(networks, bad_lists_are_refused_with_a_reason)
{
    struct ig_networks n;
    char err[160];
    const char *bad[] = {"10.0.0.0/33", "fd00::/129",  "10.0.0.0/-1",
                         "10.0.0.0/x",  "example.com", "10.0.0/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_assert_eq(ig_networks_parse(bad[i], &n, err, sizeof err), IG_EINVAL, "%s", bad[i]);
        cr_assert_gt(strlen(err), 5);
    }
}

Test(networks, metadata_addresses)
{
    cr_assert(ig_address_is_metadata(SA("169.254.169.254")));
    cr_assert(ig_address_is_metadata(SA("100.100.100.200")));
    cr_assert(ig_address_is_metadata(SA("fd00:ec2::254")));
    cr_assert(ig_address_is_metadata(SA("::ffff:169.254.169.254")));
    cr_assert_not(ig_address_is_metadata(SA("169.254.1.1")));
    cr_assert(ig_address_is_private(SA("169.254.1.1")));
    cr_assert_not(ig_address_is_private(SA("8.8.8.8")));
    /* IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry
     * (this once depended on a type-punned local that GCC -O2 misread). */
    cr_assert(ig_address_is_private(SA("::ffff:10.1.2.3")));
    cr_assert(ig_address_is_private(SA("::ffff:127.0.0.1")));
    cr_assert_not(ig_address_is_private(SA("::ffff:8.8.8.8")));
    cr_assert(ig_address_is_private(SA("::1")));
    cr_assert(ig_address_is_private(SA("fe80::1")));
    cr_assert_not(ig_address_is_private(SA("2001:db8::1")));
}

Test(upstream_request, header_lines_are_checked_and_copied)
{
    struct ig_upstream_request r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(ig_upstream_request_header(&r, "Accept", "image/*"), 0);
    cr_assert_eq(ig_upstream_request_header(&r, "X-Bad", "a\r\nInjected: 1"), IG_EINVAL);
    cr_assert_eq(ig_upstream_request_header(&r, "X\nBad", "v"), IG_EINVAL);
    static char big[9000];
    memset(big, 'a', sizeof big - 1);
    cr_assert_eq(ig_upstream_request_header(&r, "X-Big", big), IG_EINVAL);
    cr_assert_eq(ig_upstream_request_header(&r, "Authorization", "Bearer k"), 0);
    cr_assert_str_eq(r.headers.data, "Accept: image/*\r\nAuthorization: Bearer k\r\n",
                     "refused lines leave nothing behind");
    struct ig_upstream_request d;
    cr_assert_eq(ig_upstream_request_dup(&d, &r), 0);
    cr_assert_str_eq(d.headers.data, r.headers.data);
    cr_assert_neq(d.headers.data, r.headers.data, "a copy, not a share");
    ig_upstream_request_release(&d);
    ig_upstream_request_release(&r);
    cr_assert_null(r.headers.data);
}
