/* policy.c — the address policy of every outgoing connection; see
 * policy.h. The policy is a pure function of an address (it reads its
 * bytes, so no sockaddr is punned into another); beside it, the two
 * readings of the host it is given: the host's own addresses, and what a
 * configured URL resolves to. */
#include "upstream/policy.h"

#include "util/buf.h"
#include "util/err.h"
#include "util/num.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The IPv4 address sa is or carries, in host order: 1 and *a set, or 0.
 * Carriers are judged by what they carry, since that is where a packet
 * ends up: IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96, RFC 6052)
 * and 6to4 (2002::/16, RFC 3056). Reads bytes, so no sockaddr is punned
 * into another. */
static int ipv4_of(const struct sockaddr *sa, uint32_t *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    uint32_t n;
    if (sa->sa_family == AF_INET) {
        memcpy(&n, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
            memcpy(&n, b + 12, 4);
        else if (b[0] == 0x20 && b[1] == 0x02)
            memcpy(&n, b + 2, 4);
        else
            return 0;
    } else {
        return 0;
    }
    *a = ntohl(n);
    return 1;
}

static int prefix_matches(const uint8_t *a, const uint8_t *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

struct range {
    uint8_t addr[16];
    int prefix;
};

static int in_ranges(const uint8_t *addr, const struct range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (prefix_matches(r[i].addr, addr, r[i].prefix))
            return 1;
    return 0;
}

/* IANA's IPv4 Special-Purpose Address Registry (RFC 6890 and updates):
 * every range that is not globally reachable. 240/4 holds the limited
 * broadcast address 255.255.255.255. */
static const struct range special4[] = {
    {{0}, 8},             /* "this network" */
    {{10}, 8},            /* private */
    {{100, 64}, 10},      /* shared address space (CGNAT) */
    {{127}, 8},           /* loopback */
    {{169, 254}, 16},     /* link-local, cloud metadata */
    {{172, 16}, 12},      /* private */
    {{192, 0, 0}, 24},    /* IETF protocol assignments */
    {{192, 0, 2}, 24},    /* documentation (TEST-NET-1) */
    {{192, 88, 99}, 24},  /* deprecated 6to4 relay anycast */
    {{192, 168}, 16},     /* private */
    {{198, 18}, 15},      /* benchmarking */
    {{198, 51, 100}, 24}, /* documentation (TEST-NET-2) */
    {{203, 0, 113}, 24},  /* documentation (TEST-NET-3) */
    {{224}, 4},           /* multicast */
    {{240}, 4},           /* reserved, limited broadcast */
};

/* IPv6: only global unicast (2000::/3) is reachable at all; everything
 * outside it (::, ::1, IPv4-compatible, 64:ff9b:1::/48, 100::/64, 5f00::/16,
 * fc00::/7, fe80::/10, ff00::/8) is refused once the IPv4 carriers are
 * judged. Inside it, these ranges are not globally reachable... */
static const struct range special6[] = {
    {{0x20, 0x01}, 23},             /* IETF protocol assignments, Teredo, benchmarking */
    {{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
    {{0x3f, 0xff}, 20},             /* documentation (RFC 9637) */
};
/* ...except these, which are (inside 2001::/23). */
static const struct range global6[] = {
    {{0x20, 0x01, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128}, /* PCP anycast */
    {{0x20, 0x01, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 128}, /* TURN anycast */
    {{0x20, 0x01, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}, 128}, /* DNS-SD SRP anycast */
    {{0x20, 0x01, 0, 0x03}, 32},                                      /* AMT */
    {{0x20, 0x01, 0, 0x04, 0x01, 0x12}, 48},                          /* AS112-v6 */
    {{0x20, 0x01, 0, 0x20}, 28},                                      /* ORCHIDv2 */
    {{0x20, 0x01, 0, 0x30}, 28},                                      /* DRIP DETs */
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

int ig_address_is_special(const struct sockaddr *sa)
{
    uint32_t a;
    if (ipv4_of(sa, &a)) {
        uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
        return in_ranges(b, special4, NELEMS(special4));
    }
    if (sa->sa_family != AF_INET6)
        return 1;
    const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    if ((b[0] & 0xe0) != 0x20)
        return 1;
    return in_ranges(b, special6, NELEMS(special6)) && !in_ranges(b, global6, NELEMS(global6));
}

int ig_address_is_metadata(const struct sockaddr *sa)
{
    static const uint8_t aws[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    uint32_t a;
    if (ipv4_of(sa, &a))
        return a == 0xa9fea9fe /* 169.254.169.254 */ || a == 0x646464c8 /* 100.100.100.200 */;
    return sa->sa_family == AF_INET6 &&
           memcmp(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, aws, 16) == 0;
}

/* ---- operator allow-lists ---- */

int ig_networks_parse(const char *text, struct ig_networks *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        char item[64];
        if (n >= sizeof item || out->n == IG_MAX_NETWORKS) {
            snprintf(err, err_size, "'%.*s': too long, or more than %d networks",
                     (int)(n > 40 ? 40 : n), p, IG_MAX_NETWORKS);
            return IG_EINVAL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        struct ig_network *net = &out->list[out->n];
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        int max;
        if (inet_pton(AF_INET, item, net->addr) == 1) {
            net->family = AF_INET;
            max = 32;
        } else if (inet_pton(AF_INET6, item, net->addr) == 1) {
            net->family = AF_INET6;
            max = 128;
        } else {
            snprintf(err, err_size, "'%s' is not an IPv4 or IPv6 address", item);
            return IG_EINVAL;
        }
        int64_t prefix = max;
        if (slash && ig_parse_i64(slash + 1, strlen(slash + 1), 0, max, &prefix)) {
            snprintf(err, err_size, "'%s/%s': the prefix length must be 0 to %d", item, slash + 1,
                     max);
            return IG_EINVAL;
        }
        net->prefix = (int)prefix;
        out->n++;
    }
    return 0;
}

int ig_networks_contain(const struct ig_networks *nets, const struct sockaddr *sa)
{
    const uint8_t *addr;
    int family = sa->sa_family;
    if (!nets)
        return 0;
    if (family == AF_INET)
        addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (family == AF_INET6)
        addr = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    else
        return 0;
    for (int i = 0; i < nets->n; i++)
        if (nets->list[i].family == family &&
            prefix_matches(nets->list[i].addr, addr, nets->list[i].prefix))
            return 1;
    return 0;
}

/* Adds the address sa to nets as one host; 0, or IG_ETOOBIG when full. */
static int networks_add_host(struct ig_networks *nets, const struct sockaddr *sa)
{
    if (nets->n == IG_MAX_NETWORKS)
        return IG_ETOOBIG;
    struct ig_network *net = &nets->list[nets->n++];
    net->family = sa->sa_family;
    if (sa->sa_family == AF_INET) {
        memcpy(net->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        net->prefix = 32;
    } else {
        memcpy(net->addr, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, 16);
        net->prefix = 128;
    }
    return 0;
}

int ig_networks_of_host(struct ig_networks *out)
{
    memset(out, 0, sizeof *out);
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return IG_EIO;
    int rc = 0;
    for (struct ifaddrs *ifa = list; ifa && rc == 0; ifa = ifa->ifa_next) {
        const struct sockaddr *sa = ifa->ifa_addr;
        if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
            !ig_address_is_special(sa) && !ig_networks_contain(out, sa))
            rc = networks_add_host(out, sa);
    }
    freeifaddrs(list);
    return rc;
}

const char *ig_address_refusal(const struct sockaddr *sa, int allow_private,
                               const struct ig_networks *allow, const struct ig_networks *own)
{
    if (ig_address_is_metadata(sa))
        return "a cloud metadata service";
    if (allow_private)
        return NULL;
    if (ig_networks_contain(allow, sa))
        return NULL;
    if (ig_address_is_special(sa))
        return "a private or special-purpose address (upstream.allow_networks can allow it)";
    /* An own IPv4 address carried in IPv6 still ends up here. */
    struct sockaddr_in carried = {.sin_family = AF_INET};
    uint32_t a;
    if (ipv4_of(sa, &a)) {
        carried.sin_addr.s_addr = htonl(a);
        sa = (const struct sockaddr *)&carried;
    }
    if (ig_networks_contain(own, sa))
        return "an address of this host (upstream.allow_networks can allow it)";
    return NULL;
}

int ig_address_refused(const struct sockaddr *sa, int allow_private,
                       const struct ig_networks *allow, const struct ig_networks *own, char *out,
                       size_t size)
{
    const char *why = ig_address_refusal(sa, allow_private, allow, own);
    if (!why)
        return 0;
    char text[INET6_ADDRSTRLEN];
    snprintf(out, size, "refused to connect to %s: %s", ig_address_text(sa, text, sizeof text),
             why);
    return 1;
}

const char *ig_address_text(const struct sockaddr *sa, char *out, size_t size)
{
    const void *bytes =
        sa->sa_family == AF_INET
            ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        !inet_ntop(sa->sa_family, bytes, out, (socklen_t)size))
        ig_strlcpy(out, "?", size);
    return out;
}

int ig_url_metadata_address(const char *url, char *addr, size_t addr_size)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    size_t len = strlen(url);
    if (http_parser_parse_url(url, len, 0, &u) || !(u.field_set & (1 << UF_HOST)))
        return 0;
    char host[256];
    size_t n = u.field_data[UF_HOST].len;
    if (n == 0 || n >= sizeof host)
        return 0;
    memcpy(host, url + u.field_data[UF_HOST].off, n);
    host[n] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0; /* not resolvable now: the policy judges each connection */
    int found = 0;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ig_address_is_metadata(ai->ai_addr)) {
            found = 1;
            ig_address_text(ai->ai_addr, addr, addr_size);
        }
    }
    freeaddrinfo(res);
    return found;
}
