/* A program written for libdill 2.14 compiles unchanged: every short name
   exists with the expected type. */

#include <stdint.h>

#include "assert.h"
#include "libdill.h"
#include "libdillimpl.h"

#define HAS(fn) ((void)&(fn))

int main(void) {
    HAS(now); HAS(msleep); HAS(fdin); HAS(fdout); HAS(fdclean);
    HAS(hown); HAS(hclose); HAS(hmake); HAS(hquery);
    HAS(bundle); HAS(bundle_mem); HAS(bundle_wait); HAS(yield);
    HAS(chmake); HAS(chmake_mem); HAS(chsend); HAS(chrecv); HAS(chdone);
    HAS(choose);
    HAS(bsend); HAS(brecv); HAS(bsendl); HAS(brecvl);
    HAS(msend); HAS(mrecv); HAS(msendl); HAS(mrecvl);
    HAS(ipaddr_local); HAS(ipaddr_remote); HAS(ipaddr_remotes);
    HAS(ipaddr_str); HAS(ipaddr_family); HAS(ipaddr_sockaddr);
    HAS(ipaddr_len); HAS(ipaddr_port); HAS(ipaddr_setport);
    HAS(ipaddr_equal);
    HAS(tcp_listen); HAS(tcp_listen_mem); HAS(tcp_accept);
    HAS(tcp_accept_mem); HAS(tcp_connect); HAS(tcp_connect_mem);
    HAS(tcp_done); HAS(tcp_close); HAS(tcp_fromfd); HAS(tcp_fromfd_mem);
    HAS(tcp_listener_fromfd); HAS(tcp_listener_fromfd_mem);
    HAS(ipc_listen); HAS(ipc_listen_mem); HAS(ipc_accept);
    HAS(ipc_accept_mem); HAS(ipc_connect); HAS(ipc_connect_mem);
    HAS(ipc_sendfd); HAS(ipc_recvfd); HAS(ipc_done); HAS(ipc_close);
    HAS(ipc_fromfd); HAS(ipc_fromfd_mem); HAS(ipc_listener_fromfd);
    HAS(ipc_listener_fromfd_mem); HAS(ipc_pair); HAS(ipc_pair_mem);
    HAS(udp_open); HAS(udp_open_mem); HAS(udp_send); HAS(udp_recv);
    HAS(udp_sendl); HAS(udp_recvl);
    HAS(http_attach); HAS(http_attach_mem); HAS(http_done); HAS(http_detach);
    HAS(http_sendrequest); HAS(http_recvrequest); HAS(http_sendstatus);
    HAS(http_recvstatus); HAS(http_sendfield); HAS(http_recvfield);
    HAS(ws_attach_client); HAS(ws_attach_client_mem); HAS(ws_attach_server);
    HAS(ws_attach_server_mem); HAS(ws_send); HAS(ws_recv); HAS(ws_sendl);
    HAS(ws_recvl); HAS(ws_done); HAS(ws_detach); HAS(ws_status);
    HAS(ws_request_key); HAS(ws_response_key);
#if !defined DILL_DISABLE_TLS
    HAS(tls_attach_client); HAS(tls_attach_client_mem); HAS(tls_attach_server);
    HAS(tls_attach_server_mem); HAS(tls_done); HAS(tls_detach);
    static_assert(sizeof(struct tls_storage) == 72, "tls");
#endif
    /* Storage sizes of libdill 2.14 (x86-64). */
    static_assert(sizeof(struct bundle_storage) == 64, "bundle");
    static_assert(sizeof(struct chstorage) == 144, "channel");
    static_assert(sizeof(struct ipaddr) == 32, "ipaddr");
    static_assert(sizeof(struct tcp_listener_storage) == 56, "tcp listener");
    static_assert(sizeof(struct tcp_storage) == 72, "tcp");
    static_assert(sizeof(struct ipc_listener_storage) == 24, "ipc listener");
    static_assert(sizeof(struct ipc_storage) == 72, "ipc");
    static_assert(sizeof(struct ipc_pair_storage) == 144, "ipc pair");
    static_assert(sizeof(struct udp_storage) == 72, "udp");
    static_assert(sizeof(struct http_storage) == 1296, "http");
    static_assert(sizeof(struct ws_storage) == 176, "ws");
    static_assert(sizeof(struct prefix_storage) == 56, "prefix");
    static_assert(sizeof(struct suffix_storage) == 128, "suffix");
    static_assert(sizeof(struct term_storage) == 88, "term");
    static_assert(PREFIX_BIG_ENDIAN == 0 && PREFIX_LITTLE_ENDIAN == 1,
        "prefix flags");
    static_assert(DILL_VERSION_CURRENT == 25 && DILL_VERSION_REVISION == 0 &&
        DILL_VERSION_AGE == 5, "libdill 2.14's interface version");
    HAS(prefix_attach); HAS(prefix_attach_mem); HAS(prefix_detach);
    HAS(suffix_attach); HAS(suffix_attach_mem); HAS(suffix_detach);
    HAS(term_attach); HAS(term_attach_mem); HAS(term_done); HAS(term_detach);
    HAS(happyeyeballs_connect);
#if !defined DILL_DISABLE_TLS
    HAS(dtls_attach_server); HAS(dtls_attach_server_mem);
    HAS(dtls_attach_client); HAS(dtls_attach_client_mem);
    HAS(dtls_done); HAS(dtls_detach);
    static_assert(sizeof(struct dtls_storage) == 88, "dtls");
#endif

    /* Freed handle numbers are reused in the order they were freed (as in
       libdill), so a stale handle does not name the next object. */
    int ch[2], h[4];
    errno_assert(chmake(ch) == 0);
    errno_assert(hclose(ch[0]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    errno_assert(chmake(ch) == 0);
    int stale = ch[0];
    errno_assert(hclose(ch[0]) == 0);
    for(int i = 0; i != 4; i += 2) errno_assert(chmake(&h[i]) == 0);
    for(int i = 0; i != 4; i++) assert(h[i] != stale);
    assert_err(chsend(stale, "", 0, 0), EBADF);
    for(int i = 0; i != 4; i++) errno_assert(hclose(h[i]) == 0);
    errno_assert(hclose(ch[1]) == 0);
    static_assert(CHSEND == 1 && CHRECV == 2, "choose ops");
    static_assert(IPADDR_IPV4 == 1 && IPADDR_IPV6 == 2 &&
        IPADDR_PREF_IPV4 == 3 && IPADDR_PREF_IPV6 == 4 &&
        IPADDR_MAXSTRLEN == 46, "ipaddr modes");
    static_assert(WS_BINARY == 0 && WS_TEXT == 1 && WS_NOHTTP == 2, "ws");
    static_assert(WS_KEY_SIZE == 32, "ws key");
    struct chclause cl = {CHSEND, 0, NULL, 0};
    struct iolist iol = {NULL, 0, NULL, 0};
    (void)cl; (void)iol;
    return 0;
}
