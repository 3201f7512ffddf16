/* SOCKS5 messages (RFC 1928, RFC 1929), pure functions over buffers. */

#include <errno.h>
#include <string.h>

#include "socks5msg.h"

/* Address length for an address type, given the byte after ATYP (the name
   length) when there is one; -1 for an unknown type. */
static int dill__socks5_addrlen(int atyp, const uint8_t *p, size_t have,
      int *known) {
    *known = 1;
    switch(atyp) {
    case DILL__SOCKS5_IPV4: return 4;
    case DILL__SOCKS5_IPV6: return 16;
    case DILL__SOCKS5_NAME:
        if(!have) {*known = 0; return 1;}
        return p[0] ? 1 + p[0] : -1;
    default: return -1;
    }
}

/* REQUEST and REPLY: VER CODE RSV ATYP ADDR PORT(2).  RSV is not checked:
   RFC 1928 only reserves it. */
static int dill__socks5_cmdlen(const uint8_t *buf, size_t have) {
    if(have >= 1 && buf[0] != 5) return -EPROTO;
    if(have < 4) return 4;
    int known;
    int al = dill__socks5_addrlen(buf[3], buf + 4, have - 4, &known);
    if(al < 0) return -EPROTO;
    if(!known) return 5;
    return 4 + al + 2;
}

int dill__socks5_msglen(int kind, const uint8_t *buf, size_t have) {
    switch(kind) {
    case DILL__SOCKS5_GREETING:
        if(have >= 1 && buf[0] != 5) return -EPROTO;
        if(have < 2) return 2;
        if(buf[1] == 0) return -EPROTO;
        return 2 + buf[1];
    case DILL__SOCKS5_CHOICE:
        if(have >= 1 && buf[0] != 5) return -EPROTO;
        return 2;
    case DILL__SOCKS5_AUTH:
        if(have >= 1 && buf[0] != 1) return -EPROTO;
        if(have < 2) return 2;
        if(have < 3 + (size_t)buf[1]) return 3 + buf[1];
        return 3 + buf[1] + buf[2 + buf[1]];
    case DILL__SOCKS5_AUTHREPLY:
        if(have >= 1 && buf[0] != 1) return -EPROTO;
        return 2;
    case DILL__SOCKS5_REQUEST:
    case DILL__SOCKS5_REPLY:
        return dill__socks5_cmdlen(buf, have);
    default:
        return -EINVAL;
    }
}

size_t dill__socks5_greeting(uint8_t *buf, int userpass) {
    buf[0] = 5;
    buf[1] = userpass ? 2 : 1;
    buf[2] = DILL__SOCKS5_NOAUTH;
    if(userpass) buf[3] = DILL__SOCKS5_USERPASS;
    return userpass ? 4 : 3;
}

int dill__socks5_choose(const uint8_t *msg, size_t len, int require) {
    int noauth = 0, userpass = 0;
    for(size_t i = 2; i < len; i++) {
        if(msg[i] == DILL__SOCKS5_NOAUTH) noauth = 1;
        if(msg[i] == DILL__SOCKS5_USERPASS) userpass = 1;
    }
    if(require) return userpass ? DILL__SOCKS5_USERPASS : DILL__SOCKS5_NOMETHOD;
    if(noauth) return DILL__SOCKS5_NOAUTH;
    return userpass ? DILL__SOCKS5_USERPASS : DILL__SOCKS5_NOMETHOD;
}

int dill__socks5_choice(const uint8_t *msg, int userpass) {
    if(msg[1] == DILL__SOCKS5_NOMETHOD) return -EACCES;
    if(msg[1] == DILL__SOCKS5_NOAUTH) return DILL__SOCKS5_NOAUTH;
    if(msg[1] == DILL__SOCKS5_USERPASS && userpass)
        return DILL__SOCKS5_USERPASS;
    return -EPROTO;
}

ssize_t dill__socks5_auth(uint8_t *buf, const char *user, const char *pass) {
    size_t ul = strlen(user), pl = strlen(pass);
    if(ul > DILL__SOCKS5_MAXSTR || pl > DILL__SOCKS5_MAXSTR) return -EINVAL;
    buf[0] = 1;
    buf[1] = (uint8_t)ul;
    memcpy(buf + 2, user, ul);
    buf[2 + ul] = (uint8_t)pl;
    memcpy(buf + 3 + ul, pass, pl);
    return (ssize_t)(3 + ul + pl);
}

/* Copies n bytes to a C string; NUL inside cannot be represented. */
static int dill__socks5_str(char *dst, const uint8_t *src, size_t n) {
    if(memchr(src, 0, n)) return -EPROTO;
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

int dill__socks5_auth_parse(const uint8_t *msg, size_t len,
      char user[DILL__SOCKS5_MAXSTR + 1], char pass[DILL__SOCKS5_MAXSTR + 1]) {
    size_t ul = msg[1];
    size_t pl = msg[2 + ul];
    if(len != 3 + ul + pl) return -EPROTO;
    if(dill__socks5_str(user, msg + 2, ul) < 0) return -EPROTO;
    return dill__socks5_str(pass, msg + 3 + ul, pl);
}

int dill__socks5_authreply(const uint8_t *msg) {
    return msg[1] == 0 ? 0 : -EACCES;
}

ssize_t dill__socks5_command(uint8_t *buf, int code,
      const struct dill__socks5_addr *a) {
    if(code < 0 || code > 255 || a->port < 0 || a->port > 65535)
        return -EINVAL;
    buf[0] = 5;
    buf[1] = (uint8_t)code;
    buf[2] = 0;
    buf[3] = (uint8_t)a->atyp;
    size_t n = 4;
    switch(a->atyp) {
    case DILL__SOCKS5_IPV4: memcpy(buf + n, a->addr, 4); n += 4; break;
    case DILL__SOCKS5_IPV6: memcpy(buf + n, a->addr, 16); n += 16; break;
    case DILL__SOCKS5_NAME: {
        size_t nl = strnlen(a->name, sizeof(a->name));
        if(nl == 0 || nl > DILL__SOCKS5_MAXSTR) return -EINVAL;
        buf[n++] = (uint8_t)nl;
        memcpy(buf + n, a->name, nl);
        n += nl;
        break;
    }
    default: return -EINVAL;
    }
    buf[n++] = (uint8_t)(a->port >> 8);
    buf[n++] = (uint8_t)(a->port & 0xff);
    return (ssize_t)n;
}

int dill__socks5_command_parse(const uint8_t *msg, size_t len, int *code,
      struct dill__socks5_addr *a) {
    if(dill__socks5_cmdlen(msg, len) != (int)len) return -EPROTO;
    *code = msg[1];
    a->atyp = msg[3];
    const uint8_t *p = msg + 4;
    switch(a->atyp) {
    case DILL__SOCKS5_IPV4: memcpy(a->addr, p, 4); p += 4; break;
    case DILL__SOCKS5_IPV6: memcpy(a->addr, p, 16); p += 16; break;
    default:
        if(dill__socks5_str(a->name, p + 1, p[0]) < 0) return -EPROTO;
        p += 1 + p[0];
        break;
    }
    a->port = (p[0] << 8) | p[1];
    return 0;
}

int dill__socks5_reply_errno(int rep) {
    switch(rep) {
    case 0x01: return EIO;
    case 0x02: return EACCES;
    case 0x03: return ENETUNREACH;
    case 0x04: return EHOSTUNREACH;
    case 0x05: return ECONNREFUSED;
    case 0x06: return ETIMEDOUT;
    case 0x07: return EOPNOTSUPP;
    case 0x08: return EAFNOSUPPORT;
    default: return EPROTO;
    }
}
