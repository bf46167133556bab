/* policy.h — the address policy: which addresses an outgoing connection
 * may reach. One pure function decides for every transport (libcurl's
 * socket callback and the built-in client's connect): a deployment's own
 * api_base host may be anything the operator wrote; anywhere else
 * special-purpose addresses and the host's own addresses are refused
 * unless allow-listed, and the metadata services always, even there. */
#ifndef IG_POLICY_H
#define IG_POLICY_H

#include <stdint.h>
#include <sys/socket.h>

/* Networks the operator allows the gateway to reach although they are
 * private (a LAN image server, an internal mirror): at most
 * IG_MAX_NETWORKS, IPv4 or IPv6, each an address and a prefix length. */
#define IG_MAX_NETWORKS 64

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

/* 1 when the address is in a special-purpose range that is not globally
 * reachable (IANA's IPv4 and IPv6 special-purpose registries: private,
 * loopback, link-local, CGNAT, documentation, benchmarking, multicast,
 * reserved...; IPv6 outside 2000::/3). IPv4-mapped, NAT64 and 6to4
 * addresses are judged by the IPv4 address they carry. */
int ig_address_is_special(const struct sockaddr *sa);
/* 1 for the cloud metadata services (169.254.169.254, fd00:ec2::254,
 * 100.100.100.200, also when carried in IPv6): never reached, not even by
 * a deployment's own api_base or through an allow-list. */
int ig_address_is_metadata(const struct sockaddr *sa);
/* The addresses of this host's interfaces that are not special (the ones
 * ig_address_is_special would let through), each as one host. Reads the
 * interfaces (getifaddrs), so not pure: callers keep the list and read it
 * again now and then. 0; IG_ETOOBIG with the first IG_MAX_NETWORKS kept;
 * IG_EIO. */
int ig_networks_of_host(struct ig_networks *out);
/* The policy: NULL when a connection to sa is allowed, else why it is
 * refused (a phrase for an error message). The metadata services are
 * always refused; otherwise allow_private (set for a deployment's own
 * api_base host) allows anything, then the operator's allow-list, then
 * special-purpose addresses and this host's own (own) are refused. allow
 * and own may be NULL. */
const char *ig_address_refusal(const struct sockaddr *sa, int allow_private,
                               const struct ig_networks *allow, const struct ig_networks *own);

/* ig_address_refusal with its message: 1 when the connection to sa is
 * refused, "refused to connect to ADDRESS: WHY" written to out (bounded);
 * 0 when allowed, out untouched. */
int ig_address_refused(const struct sockaddr *sa, int allow_private,
                       const struct ig_networks *allow, const struct ig_networks *own, char *out,
                       size_t size);

/* The address of sa as text ("192.0.2.2", "2001:db8::2") in out; "?"
 * when it is neither IPv4 nor IPv6 or out is too small. Returns out. */
const char *ig_address_text(const struct sockaddr *sa, char *out, size_t size);
/* Resolves the host of url (blocking: for start-up checks) and returns 1
 * with the address written to addr when one of its addresses is a
 * metadata service; 0 otherwise, also when it does not resolve now. */
int ig_url_metadata_address(const char *url, char *addr, size_t addr_size);

#endif
