/* Internal helpers around struct dill_ipaddr. */

#ifndef DILL_NET_IPADDR_H
#define DILL_NET_IPADDR_H

#include <sys/socket.h>

#include "libdill.h"

/* Stores an AF_INET or AF_INET6 socket address into addr.  Returns 0, or
   -EAFNOSUPPORT for other families. */
int dill__ipaddr_set(struct dill_ipaddr *addr, const struct sockaddr *sa);

/* Test hook: DNS servers ("ip:port,...", c-ares CSV syntax) used instead
   of /etc/resolv.conf's by later name lookups; NULL restores the system
   configuration.  The string is copied.  Returns 0 or -1 (errno). */
int dill__ipaddr_dns_servers(const char *csv);

#endif
