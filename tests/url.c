/* ws:// and wss:// URL parsing. */

#include <string.h>

#include "assert.h"
#include "proto/url.h"

static void ok(const char *url, int secure, const char *host, int port,
      const char *hosthdr, const char *resource) {
    struct dill__url u;
    int rc = dill__url_parse(url, &u);
    if(rc != 0) fprintf(stderr, "failed: %s\n", url);
    assert(rc == 0);
    assert(u.secure == secure);
    assert(!strcmp(u.host, host));
    assert(u.port == port);
    assert(!strcmp(u.hosthdr, hosthdr));
    assert(!strcmp(u.resource, resource));
}

static void bad(const char *url, int err) {
    struct dill__url u;
    int rc = dill__url_parse(url, &u);
    if(rc != -err) fprintf(stderr, "rc %d for: %.60s\n", rc, url);
    assert(rc == -err);
}

int main(void) {
    ok("ws://example.com", 0, "example.com", 80, "example.com", "/");
    ok("ws://example.com/", 0, "example.com", 80, "example.com", "/");
    ok("WS://Example.com:8080/chat?room=1&x=%20", 0, "Example.com", 8080,
        "Example.com:8080", "/chat?room=1&x=%20");
    ok("wss://example.com/a/b", 1, "example.com", 443, "example.com", "/a/b");
    ok("wss://example.com:443/", 1, "example.com", 443, "example.com", "/");
    ok("ws://example.com:80/", 0, "example.com", 80, "example.com", "/");
    ok("wss://example.com:80/", 1, "example.com", 80, "example.com:80", "/");
    ok("ws://127.0.0.1:9000", 0, "127.0.0.1", 9000, "127.0.0.1:9000", "/");
    ok("ws://[::1]:9000/x", 0, "::1", 9000, "[::1]:9000", "/x");
    ok("wss://[2001:db8::1]/", 1, "2001:db8::1", 443, "[2001:db8::1]", "/");
    ok("ws://host?q=1", 0, "host", 80, "host", "/?q=1");
    bad(NULL, EINVAL);
    bad("", EINVAL);
    bad("http://example.com/", EINVAL);
    bad("ws:/example.com", EINVAL);
    bad("ws://", EINVAL);
    bad("ws:///path", EINVAL);
    bad("ws://:80/", EINVAL);
    bad("ws://example.com/#frag", EINVAL);
    bad("ws://user:pw@example.com/", EINVAL);
    bad("ws://example.com:0/", EINVAL);
    bad("ws://example.com:65536/", EINVAL);
    bad("ws://example.com:/", EINVAL);
    bad("ws://example.com:12a/", EINVAL);
    bad("ws://example.com:123456/", EINVAL);
    bad("ws://[::1/", EINVAL);
    bad("ws://[]/", EINVAL);
    bad("ws://[::1]x/", EINVAL);
    bad("ws://[fe80::1%eth0]/", EINVAL);
    bad("ws://exa mple.com/", EINVAL);
    bad("ws://example.com/a b", EINVAL);
    bad("ws://example.com/\x01", EINVAL);
    bad("ws://exa<mple.com/", EINVAL);
    char big[4000];
    memset(big, 'a', sizeof(big));
    memcpy(big, "ws://h/", 7);
    big[sizeof(big) - 1] = 0;
    bad(big, EMSGSIZE);
    /* A host name longer than its buffer. */
    memset(big, 'a', sizeof(big));
    memcpy(big, "ws://", 5);
    big[400] = 0;
    bad(big, EMSGSIZE);
    return 0;
}
