/* policy.c — the address policy of every outgoing connection; see
 * policy.h. Pure functions of an address: they read its bytes, so no
 * sockaddr is punned into another. */
#include "upstream/policy.h"

#include "util/err.h"
#include "util/num.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The IPv4 address sa is, or maps (::ffff:a.b.c.d), in host order: 1 and
 * *a set, or 0. Reads bytes, so no sockaddr is punned into another. */
static int ipv4_of(const struct sockaddr *sa, uint32_t *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint32_t n;
    if (sa->sa_family == AF_INET) {
        memcpy(&n, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(b, mapped, 12) != 0)
            return 0;
        memcpy(&n, b + 12, 4);
    } else {
        return 0;
    }
    *a = ntohl(n);
    return 1;
}

int ig_address_is_private(const struct sockaddr *sa)
{
    uint32_t a;
    if (ipv4_of(sa, &a))
        return (a >> 24) == 0 ||               /* 0.0.0.0/8 */
               (a >> 24) == 10 ||              /* 10/8 */
               (a >> 24) == 127 ||             /* loopback */
               (a >> 16) == 0xa9fe ||          /* 169.254/16 link-local, metadata */
               (a >> 20) == 0xac1 ||           /* 172.16/12 */
               (a >> 16) == 0xc0a8 ||          /* 192.168/16 */
               (a >> 22) == (100u << 2 | 1) || /* 100.64/10 CGNAT */
               (a >> 28) >= 0xe;               /* multicast and reserved */
    if (sa->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const uint8_t zero[16];
        return memcmp(b, zero, 15) == 0 ||                /* :: and ::1 */
               (b[0] & 0xfe) == 0xfc ||                   /* fc00::/7 unique local */
               (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
               b[0] == 0xff;                              /* multicast */
    }
    return 1;
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

int ig_address_refused(const struct sockaddr *sa, int allow_private,
                       const struct ig_networks *allow)
{
    return !allow_private && (ig_address_is_metadata(sa) ||
                              (ig_address_is_private(sa) && !ig_networks_contain(allow, sa)));
}
