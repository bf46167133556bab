/* policy.h — the address policy: which addresses an outgoing connection
 * may reach. One pure function decides for every transport (libcurl's
 * socket callback and the built-in client's connect): a deployment's own
 * api_base host may be anything the operator wrote; anywhere else private
 * addresses are refused unless allow-listed, and the metadata services
 * always. */
#ifndef IG_POLICY_H
#define IG_POLICY_H

#include <stdint.h>
#include <sys/socket.h>

/* Networks the operator allows the gateway to reach although they are
 * private (a LAN image server, an internal mirror): at most
 * IG_MAX_NETWORKS, IPv4 or IPv6, each an address and a prefix length. */
#define IG_MAX_NETWORKS 32

struct ig_network {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;
};

struct ig_networks {
    struct ig_network list[IG_MAX_NETWORKS];
    int n;
};

/* Parses "10.0.0.0/8, fd12::/16, 192.168.1.7" (a bare address is one
 * host). 0, or IG_EINVAL with the reason in err. */
int ig_networks_parse(const char *text, struct ig_networks *out, char *err, size_t err_size);
int ig_networks_contain(const struct ig_networks *nets, const struct sockaddr *sa);

/* 1 when a connection to this address would be refused by the policy
 * (loopback, private, link-local, CGNAT, multicast, reserved). */
int ig_address_is_private(const struct sockaddr *sa);
/* 1 for the cloud metadata services (169.254.169.254, fd00:ec2::254,
 * 100.100.100.200): never reached through an allow-list, only when a
 * deployment's own api_base names them. */
int ig_address_is_metadata(const struct sockaddr *sa);
/* The policy: 1 when a connection to sa must be refused. allow_private
 * is set for a deployment's own api_base host; allow may be NULL. */
int ig_address_refused(const struct sockaddr *sa, int allow_private,
                       const struct ig_networks *allow);

#endif
