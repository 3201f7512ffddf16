/* SOCKS version 5 (RFC 1928) with username/password authentication
   (RFC 1929), sans I/O.

   The six messages of a CONNECT exchange, in order:
     GREETING   client: VER=5 NMETHODS METHODS[NMETHODS]
     CHOICE     proxy:  VER=5 METHOD
     AUTH       client: VER=1 ULEN UNAME PLEN PASSWD       (method 2 only)
     AUTHREPLY  proxy:  VER=1 STATUS                        (method 2 only)
     REQUEST    client: VER=5 CMD RSV ATYP DST.ADDR DST.PORT
     REPLY      proxy:  VER=5 REP RSV ATYP BND.ADDR BND.PORT

   Reading one message: have = 0, then while dill__socks5_msglen returns
   n > have, receive bytes have..n-1 and set have = n.  This never reads
   past the end of the message, so bytes that follow it (the proxied
   stream) stay in the socket.  Then the message's parser takes the
   complete message. */

#ifndef DILL_PROTO_SOCKS5MSG_H
#define DILL_PROTO_SOCKS5MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum dill__socks5_kind {
    DILL__SOCKS5_GREETING,
    DILL__SOCKS5_CHOICE,
    DILL__SOCKS5_AUTH,
    DILL__SOCKS5_AUTHREPLY,
    DILL__SOCKS5_REQUEST,
    DILL__SOCKS5_REPLY
};

/* Authentication methods (RFC 1928 section 3). */
#define DILL__SOCKS5_NOAUTH 0x00
#define DILL__SOCKS5_USERPASS 0x02
#define DILL__SOCKS5_NOMETHOD 0xff

/* Address types. */
#define DILL__SOCKS5_IPV4 0x01
#define DILL__SOCKS5_NAME 0x03
#define DILL__SOCKS5_IPV6 0x04

/* Longest message of any kind: AUTH with a 255-byte user name and a
   255-byte password. */
#define DILL__SOCKS5_MAXMSG 513
/* Longest host name, user name or password. */
#define DILL__SOCKS5_MAXSTR 255

/* A DST or BND address: atyp says which of addr (4 or 16 bytes) or name
   (NUL-terminated, 1 to 255 bytes, no NUL inside) holds it. */
struct dill__socks5_addr {
    int atyp;
    int port;
    uint8_t addr[16];
    char name[DILL__SOCKS5_MAXSTR + 1];
};

/* Given the first have bytes of a message of the kind, returns the number
   of bytes the message is known to need so far: more than have means
   "receive up to that many", equal to have means the message is complete.
   Returns -EPROTO as soon as the bytes seen cannot start a valid message
   (wrong version, no methods, unknown address type, empty name).  Never
   returns more than DILL__SOCKS5_MAXMSG. */
int dill__socks5_msglen(int kind, const uint8_t *buf, size_t have);

/* Writes a GREETING offering "no authentication" and, when userpass is
   set, username/password too.  buf must have 4 bytes.  Returns its
   length. */
size_t dill__socks5_greeting(uint8_t *buf, int userpass);

/* Proxy side: picks the method for a complete GREETING.  With require set
   only username/password is acceptable; otherwise "no authentication" is
   preferred and username/password taken when it is all the client
   offers.  Returns the method, DILL__SOCKS5_NOMETHOD when none fits. */
int dill__socks5_choose(const uint8_t *msg, size_t len, int require);

/* Client side: checks a complete CHOICE against what the greeting
   offered.  Returns the method, -EACCES when the proxy accepted none
   (0xff), -EPROTO when it picked one that was not offered. */
int dill__socks5_choice(const uint8_t *msg, int userpass);

/* Writes an AUTH message.  buf must have DILL__SOCKS5_MAXMSG bytes.
   Returns its length, or -EINVAL when user or password is longer than 255
   bytes. */
ssize_t dill__socks5_auth(uint8_t *buf, const char *user, const char *pass);

/* Proxy side: extracts user name and password from a complete AUTH,
   NUL-terminated.  Returns 0, or -EPROTO when either contains a NUL
   byte. */
int dill__socks5_auth_parse(const uint8_t *msg, size_t len,
    char user[DILL__SOCKS5_MAXSTR + 1], char pass[DILL__SOCKS5_MAXSTR + 1]);

/* Client side: status of a complete AUTHREPLY: 0 when accepted, -EACCES
   otherwise. */
int dill__socks5_authreply(const uint8_t *msg);

/* Writes a REQUEST (code is CMD) or a REPLY (code is REP); the two have
   the same layout.  buf must have 262 bytes.  Returns the length, or
   -EINVAL for a code outside 0..255, a port outside 0..65535, an unknown
   address type, or a name that is empty or longer than 255 bytes. */
ssize_t dill__socks5_command(uint8_t *buf, int code,
    const struct dill__socks5_addr *a);

/* Parses a complete REQUEST or REPLY: *code gets CMD or REP, *a the
   address.  Returns 0, or -EPROTO when a name contains a NUL byte. */
int dill__socks5_command_parse(const uint8_t *msg, size_t len, int *code,
    struct dill__socks5_addr *a);

/* The errno for a REPLY code other than success (RFC 1928 section 6):
   EIO, EACCES, ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, ETIMEDOUT,
   EOPNOTSUPP, EAFNOSUPPORT; EPROTO for unassigned codes. */
int dill__socks5_reply_errno(int rep);

#endif
