/* Interoperability with an independent implementation: the Python
   "websockets" library (Debian package python3-websockets).  Our client
   against its server, and its client against our server: handshake with a
   subprotocol, messages of every length encoding, text, fragmented
   messages, pings both ways, the closing handshake.  Skipped (passes) when
   /usr/bin/python3 cannot import websockets. */

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"

#define PY "/usr/bin/python3"

static const char *pyserver =
    "import asyncio, sys, websockets\n"
    "async def h(ws, path=None):\n"
    "    async for m in ws:\n"
    "        await ws.send(m)\n"
    "async def main():\n"
    "    async with websockets.serve(h, '127.0.0.1', 0, max_size=None,\n"
    "            subprotocols=['v2.chat']) as srv:\n"
    "        print(srv.sockets[0].getsockname()[1], flush=True)\n"
    "        await asyncio.sleep(30)\n"
    "asyncio.run(main())\n";

static const char *pyclient =
    "import asyncio, os, sys, websockets\n"
    "async def main(port):\n"
    "    async with websockets.connect(f'ws://127.0.0.1:{port}/py',\n"
    "            max_size=None, subprotocols=['x', 'v1.chat']) as ws:\n"
    "        assert ws.subprotocol == 'v1.chat', ws.subprotocol\n"
    "        for n in (0, 1, 125, 126, 65535, 65536, 1 << 20):\n"
    "            d = os.urandom(n)\n"
    "            await ws.send(d)\n"
    "            assert await ws.recv() == d\n"
    "        await ws.send('h\\u00e9llo \\u20ac')\n"
    "        assert await ws.recv() == 'h\\u00e9llo \\u20ac'\n"
    "        await ws.send(iter(['ab', 'c\\u00e9', '']))\n"
    "        assert await ws.recv() == 'abc\\u00e9'\n"
    "        pong = await ws.ping(b'py')\n"
    "        await asyncio.wait_for(pong, 5)\n"
    "        await ws.close(4001, 'bye')\n"
    "asyncio.run(main(int(sys.argv[1])))\n";

static int have_python(void) {
    return access(PY, X_OK) == 0 &&
        system(PY " -c 'import websockets' >/dev/null 2>&1") == 0;
}

static pid_t spawn(const char *script, const char *arg, int *outfd) {
    int p[2];
    errno_assert(pipe(p) == 0);
    pid_t pid = fork();
    errno_assert(pid >= 0);
    if(pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(PY, PY, "-c", script, arg, (char*)NULL);
        _exit(127);
    }
    close(p[1]);
    *outfd = p[0];
    return pid;
}

static void our_client(void) {
    int out;
    pid_t pid = spawn(pyserver, NULL, &out);
    char line[32] = {0};
    assert(read(out, line, sizeof(line) - 1) > 0);
    int port = atoi(line);
    assert(port > 0);
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", port, IPADDR_IPV4) == 0);
    int s = tcp_connect(&addr, now() + 5000);
    errno_assert(s >= 0);
    static const char *protos[] = {"v2.chat", NULL};
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.protocols = protos;
    int c = ws_attach_client_opts(s, "/echo", "localhost", &o, NULL,
        now() + 5000);
    errno_assert(c >= 0);
    char pr[16];
    assert(ws_protocol(c, pr, sizeof(pr)) == 7);
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
    uint8_t *pat = malloc(1 << 20), *buf = malloc(1 << 20);
    for(size_t i = 0; i != (1 << 20); i++) pat[i] = (uint8_t)(i * 13 + 1);
    int flags;
    for(size_t i = 0; i != sizeof(sizes) / sizeof(sizes[0]); i++) {
        errno_assert(ws_send(c, WS_BINARY, pat, sizes[i], now() + 5000) == 0);
        assert(ws_recv(c, &flags, buf, 1 << 20, now() + 5000) ==
            (ssize_t)sizes[i]);
        assert(flags == WS_BINARY && memcmp(buf, pat, sizes[i]) == 0);
    }
    errno_assert(ws_send(c, WS_TEXT, "h\xc3\xa9llo", 6, -1) == 0);
    assert(ws_recv(c, &flags, buf, 100, now() + 5000) == 6);
    assert(flags == WS_TEXT && memcmp(buf, "h\xc3\xa9llo", 6) == 0);
    errno_assert(ws_send_part(c, WS_TEXT | WS_MORE, "a\xc3", 2, -1) == 0);
    errno_assert(ws_ping(c, "between", 7, -1) == 0);
    errno_assert(ws_send_part(c, 0, "\xa9z", 2, -1) == 0);
    assert(ws_recv(c, &flags, buf, 100, now() + 5000) == 4);
    assert(memcmp(buf, "a\xc3\xa9z", 4) == 0);
    /* Closing handshake; the server then closes TCP first. */
    int u = ws_detach(c, 1000, "done", 4, now() + 5000);
    errno_assert(u >= 0);
    errno_assert(hclose(u) == 0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(out);
    free(pat);
    free(buf);
}

static void our_server(void) {
    struct ipaddr addr;
    errno_assert(ipaddr_local(&addr, "127.0.0.1", 0, IPADDR_IPV4) == 0);
    int ls = tcp_listen(&addr, 10);
    errno_assert(ls >= 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", ipaddr_port(&addr));
    int out;
    pid_t pid = spawn(pyclient, port, &out);
    int s = tcp_accept(ls, NULL, now() + 10000);
    errno_assert(s >= 0);
    static const char *protos[] = {"v1.chat", NULL};
    struct dill_ws_options o = DILL_WS_OPTIONS_INIT;
    o.protocols = protos;
    char res[64], host[64];
    s = ws_attach_server_opts(s, res, sizeof(res), host, sizeof(host), &o,
        NULL, now() + 5000);
    errno_assert(s >= 0);
    assert(strcmp(res, "/py") == 0);
    uint8_t *buf = malloc(1 << 20);
    while(1) {
        int flags;
        ssize_t n = ws_recv(s, &flags, buf, 1 << 20, now() + 10000);
        if(n < 0) break;
        errno_assert(ws_send(s, flags, buf, (size_t)n, now() + 5000) == 0);
    }
    assert(errno == EPIPE);
    int status;
    assert(ws_status(s, &status, buf, 100) == 3);
    assert(status == 4001 && memcmp(buf, "bye", 3) == 0);
    /* The server closes the connection first. */
    errno_assert(hclose(s) == 0);
    int st;
    errno_assert(waitpid(pid, &st, 0) == pid);
    assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(out);
    errno_assert(hclose(ls) == 0);
    free(buf);
}

int main(void) {
    if(!have_python()) {
        fprintf(stderr, "ws_interop: python3-websockets missing, skipped\n");
        return 0;
    }
    our_client();
    our_server();
    return 0;
}
