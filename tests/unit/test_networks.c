/* The address policy's pieces (special-purpose and metadata addresses,
 * range by range; the operator's allow-list of networks; the host's own
 * addresses) and the checks on a request's header lines. */
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
    cr_assert(ig_address_is_metadata(SA("64:ff9b::a9fe:a9fe")), "NAT64 of 169.254.169.254");
    cr_assert(ig_address_is_metadata(SA("2002:a9fe:a9fe::1")), "6to4 of 169.254.169.254");
    cr_assert_not(ig_address_is_metadata(SA("169.254.1.1")));
    cr_assert_not(ig_address_is_metadata(SA("8.8.8.8")));
}

/* One special-purpose range: its first and last address are special, and
 * so is one in the middle; the addresses just outside it (when given) are
 * not. */
struct range_case {
    const char *first, *middle, *last;
    const char *before, *after; /* globally reachable neighbours, or NULL */
};

static void check_ranges(const struct range_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert(ig_address_is_special(SA(c[i].first)), "%s", c[i].first);
        cr_assert(ig_address_is_special(SA(c[i].middle)), "%s", c[i].middle);
        cr_assert(ig_address_is_special(SA(c[i].last)), "%s", c[i].last);
        if (c[i].before)
            cr_assert_not(ig_address_is_special(SA(c[i].before)), "%s", c[i].before);
        if (c[i].after)
            cr_assert_not(ig_address_is_special(SA(c[i].after)), "%s", c[i].after);
    }
}

Test(networks, every_ipv4_special_purpose_range_is_refused)
{
    static const struct range_case v4[] = {
        {"0.0.0.0", "0.1.2.3", "0.255.255.255", NULL, "1.0.0.0"},
        {"10.0.0.0", "10.20.30.40", "10.255.255.255", "9.255.255.255", "11.0.0.0"},
        {"100.64.0.0", "100.100.1.1", "100.127.255.255", "100.63.255.255", "100.128.0.0"},
        {"127.0.0.0", "127.0.0.1", "127.255.255.255", "126.255.255.255", "128.0.0.0"},
        {"169.254.0.0", "169.254.169.254", "169.254.255.255", "169.253.255.255", "169.255.0.0"},
        {"172.16.0.0", "172.20.1.1", "172.31.255.255", "172.15.255.255", "172.32.0.0"},
        {"192.0.0.0", "192.0.0.170", "192.0.0.255", "191.255.255.255", "192.0.1.0"},
        {"192.0.2.0", "192.0.2.2", "192.0.2.255", "192.0.1.255", "192.0.3.0"},
        {"192.88.99.0", "192.88.99.1", "192.88.99.255", "192.88.98.255", "192.88.100.0"},
        {"192.168.0.0", "192.168.1.1", "192.168.255.255", "192.167.255.255", "192.169.0.0"},
        {"198.18.0.0", "198.18.0.1", "198.19.255.255", "198.17.255.255", "198.20.0.0"},
        {"198.51.100.0", "198.51.100.7", "198.51.100.255", "198.51.99.255", "198.51.101.0"},
        {"203.0.113.0", "203.0.113.9", "203.0.113.255", "203.0.112.255", "203.0.114.0"},
        {"224.0.0.0", "224.0.0.1", "239.255.255.255", "223.255.255.255", NULL},
        {"240.0.0.0", "250.1.2.3", "255.255.255.255", NULL, NULL},
    };
    check_ranges(v4, sizeof v4 / sizeof v4[0]);
    const char *global[] = {"8.8.8.8", "1.1.1.1", "11.1.1.1", "172.32.0.1", "223.1.2.3"};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++)
        cr_assert_not(ig_address_is_special(SA(global[i])), "%s", global[i]);
}

Test(networks, every_ipv6_special_purpose_range_is_refused)
{
    static const struct range_case v6[] = {
        {"::", "::1", "::1", NULL, NULL},
        {"::1.2.3.4", "::8.8.8.8", "::ffff:ffff", NULL, NULL}, /* IPv4-compatible */
        {"64:ff9b:1::", "64:ff9b:1::8.8.8.8", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", NULL, NULL},
        {"100::", "100::1", "100::ffff:ffff:ffff:ffff", NULL, NULL}, /* discard-only */
        {"2001::", "2001::1", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL},  /* Teredo */
        {"2001:2::", "2001:2::1", "2001:2:0:ffff:ffff:ffff:ffff:ffff", NULL, NULL}, /* bench */
        {"2001:100::", "2001:1ff::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", NULL,
         "2001:200::1"}, /* the end of 2001::/23 */
        {"2001:db8::", "2001:db8:1::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
         "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"},
        {"3fff::", "3fff::1", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL},
        {"5f00::", "5f00::1", "5f00:ffff::1", NULL, NULL}, /* SRv6 SIDs */
        {"fc00::", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL},
        {"fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL},
        {"ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, NULL},
    };
    check_ranges(v6, sizeof v6 / sizeof v6[0]);
    const char *global[] = {"2606:4700::1111", "2a00:1450::1", "2001:200::1", "2001:1::1",
                            "2001:1::2",       "2001:1::3",    "2001:3::1",   "2001:4:112::1",
                            "2001:20::1",      "2001:30::1",   "2001:db9::1", "3fff:1000::1"};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++)
        cr_assert_not(ig_address_is_special(SA(global[i])), "%s", global[i]);
    cr_assert(ig_address_is_special(SA("2001:1::4")), "only the three anycast hosts");
    cr_assert(ig_address_is_special(SA("2001:4:113::1")), "AS112-v6 is one /48");
}

Test(networks, ipv4_carried_in_ipv6_is_judged_by_the_ipv4_address)
{
    /* IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16). */
    const char *special[] = {"::ffff:10.1.2.3",    "::ffff:127.0.0.1", "::ffff:192.0.2.2",
                             "64:ff9b::127.0.0.1", "64:ff9b::a00:1",   "64:ff9b::c000:2ff",
                             "2002:7f00:1::",      "2002:c0a8:101::1", "2002:c612:1::1",
                             "2002:e000:1::1"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        cr_assert(ig_address_is_special(SA(special[i])), "%s", special[i]);
    const char *global[] = {"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++)
        cr_assert_not(ig_address_is_special(SA(global[i])), "%s", global[i]);
}

Test(networks, the_policy_orders_its_reasons)
{
    struct ig_networks allow, own;
    char err[160];
    cr_assert_eq(ig_networks_parse("10.0.0.0/8, 169.254.0.0/16", &allow, err, sizeof err), 0);
    cr_assert_eq(ig_networks_parse("8.8.4.4, 2a00:1450::5", &own, err, sizeof err), 0);
    cr_assert_null(ig_address_refusal(SA("8.8.8.8"), 0, &allow, &own));
    cr_assert_null(ig_address_refusal(SA("10.1.1.1"), 0, &allow, &own), "allow-listed");
    cr_assert_not_null(ig_address_refusal(SA("192.168.1.1"), 0, &allow, &own));
    cr_assert(strstr(ig_address_refusal(SA("192.168.1.1"), 0, NULL, NULL), "special-purpose"));
    cr_assert(strstr(ig_address_refusal(SA("169.254.169.254"), 0, &allow, &own), "metadata"),
              "metadata is refused even inside an allow-listed network");
    cr_assert_null(ig_address_refusal(SA("192.168.1.1"), 1, NULL, NULL),
                   "a deployment's own api_base may name a private address...");
    cr_assert_null(ig_address_refusal(SA("127.0.0.1"), 1, NULL, &own));
    cr_assert_not_null(ig_address_refusal(SA("169.254.169.254"), 1, NULL, NULL),
                       "...but never a metadata service (it is refused at start, and a name "
                       "that comes to resolve there later is refused here)");
    cr_assert(strstr(ig_address_refusal(SA("8.8.4.4"), 0, &allow, &own), "this host"));
    cr_assert(strstr(ig_address_refusal(SA("2a00:1450::5"), 0, NULL, &own), "this host"));
    cr_assert_not_null(ig_address_refusal(SA("::ffff:8.8.4.4"), 0, NULL, &own),
                       "an own IPv4 address carried in IPv6 is still this host");
    cr_assert_not_null(ig_address_refusal(SA("64:ff9b::808:404"), 0, NULL, &own));
    cr_assert_null(ig_address_refusal(SA("2a00:1450::6"), 0, NULL, &own));
    struct ig_networks mine;
    cr_assert_eq(ig_networks_parse("8.8.4.4", &mine, err, sizeof err), 0);
    cr_assert_null(ig_address_refusal(SA("8.8.4.4"), 0, &mine, &own),
                   "the allow-list lets the host's own address through");
}

Test(networks, a_url_naming_a_metadata_service_is_found)
{
    char addr[64] = "";
    cr_assert(ig_url_metadata_address("http://169.254.169.254/latest", addr, sizeof addr));
    cr_assert_str_eq(addr, "169.254.169.254");
    cr_assert(ig_url_metadata_address("https://[fd00:ec2::254]:8443/v1", addr, sizeof addr));
    cr_assert_str_eq(addr, "fd00:ec2::254");
    cr_assert(ig_url_metadata_address("http://100.100.100.200", addr, sizeof addr));
    cr_assert(ig_url_metadata_address("http://[::ffff:169.254.169.254]/", addr, sizeof addr));
    cr_assert_not(ig_url_metadata_address("http://127.0.0.1:8080/v1", addr, sizeof addr));
    cr_assert_not(ig_url_metadata_address("http://169.254.169.253/", addr, sizeof addr));
    cr_assert_not(ig_url_metadata_address("not a url", addr, sizeof addr));
}

Test(networks, the_hosts_own_addresses_leave_out_special_ones)
{
    struct ig_networks own;
    int rc = ig_networks_of_host(&own);
    cr_assert(rc == 0 || rc == IG_ETOOBIG, "%d", rc);
    for (int i = 0; i < own.n; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_family = (sa_family_t)own.list[i].family;
        if (own.list[i].family == AF_INET)
            memcpy(&((struct sockaddr_in *)&ss)->sin_addr, own.list[i].addr, 4);
        else
            memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, own.list[i].addr, 16);
        cr_assert_not(ig_address_is_special((struct sockaddr *)&ss), "loopback is never listed");
        cr_assert_eq(own.list[i].prefix, own.list[i].family == AF_INET ? 32 : 128);
    }
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
