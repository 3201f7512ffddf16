/* Opening handshakes in the styles of common WebSocket clients, shared by
   the parser and handshake tests. */

#ifndef DILL_TESTS_WS_SAMPLES_H
#define DILL_TESTS_WS_SAMPLES_H

struct ws_sample {
    const char *name;
    const char *text;
    const char *resource;
    const char *host;
    const char *key;
    const char *protocols;   /* Offered subprotocols joined by ",", or "". */
    int nheaders;
};

static const struct ws_sample ws_samples[] = {
    {"chrome",
     "GET /chat HTTP/1.1\r\n"
     "Host: example.com:8000\r\n"
     "Connection: Upgrade\r\n"
     "Pragma: no-cache\r\n"
     "Cache-Control: no-cache\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
     "Upgrade: websocket\r\n"
     "Origin: http://example.com\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Accept-Encoding: gzip, deflate, br\r\n"
     "Accept-Language: en-US,en;q=0.9\r\n"
     "Cookie: session=abc123; theme=dark\r\n"
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; "
         "client_max_window_bits\r\n"
     "Sec-WebSocket-Protocol: chat, superchat\r\n"
     "\r\n",
     "/chat", "example.com:8000", "dGhlIHNhbXBsZSBub25jZQ==",
     "chat,superchat", 14},
    {"firefox",
     "GET /socket?room=1 HTTP/1.1\r\n"
     "Host: localhost:8080\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) "
         "Gecko/20100101 Firefox/121.0\r\n"
     "Accept: */*\r\n"
     "Accept-Language: en-US,en;q=0.5\r\n"
     "Accept-Encoding: gzip, deflate, br\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Origin: http://localhost:8080\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate\r\n"
     "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
     "Connection: keep-alive, Upgrade\r\n"
     "Sec-Fetch-Dest: empty\r\n"
     "Sec-Fetch-Mode: websocket\r\n"
     "Sec-Fetch-Site: same-origin\r\n"
     "Pragma: no-cache\r\n"
     "Cache-Control: no-cache\r\n"
     "Upgrade: websocket\r\n"
     "\r\n",
     "/socket?room=1", "localhost:8080", "x3JJHMbDL1EzLkh9GBhXDw==", "", 16},
    {"curl",
     "GET /echo HTTP/1.1\r\n"
     "Host: 127.0.0.1:9001\r\n"
     "User-Agent: curl/8.5.0\r\n"
     "Accept: */*\r\n"
     "Upgrade: websocket\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Key: NVwjmQUcWCenfWu98asDmg==\r\n"
     "Connection: Upgrade\r\n"
     "\r\n",
     "/echo", "127.0.0.1:9001", "NVwjmQUcWCenfWu98asDmg==", "", 7},
    {"python-websockets",
     "GET /ws HTTP/1.1\r\n"
     "Host: localhost:8765\r\n"
     "Upgrade: websocket\r\n"
     "Connection: Upgrade\r\n"
     "Sec-WebSocket-Key: 9xcKHQWfLXHxtlmbB8N2Wg==\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; "
         "client_max_window_bits\r\n"
     "Sec-WebSocket-Protocol: graphql-ws\r\n"
     "User-Agent: Python/3.11 websockets/12.0\r\n"
     "\r\n",
     "/ws", "localhost:8765", "9xcKHQWfLXHxtlmbB8N2Wg==", "graphql-ws", 8},
    {"node-ws",
     "GET / HTTP/1.1\r\n"
     "Sec-WebSocket-Version: 13\r\n"
     "Sec-WebSocket-Key: bSuWSvDT/2imV4D9QeeBqA==\r\n"
     "Connection: Upgrade\r\n"
     "Upgrade: websocket\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; "
         "client_max_window_bits\r\n"
     "Host: localhost:8080\r\n"
     "\r\n",
     "/", "localhost:8080", "bSuWSvDT/2imV4D9QeeBqA==", "", 6},
};

#define WS_NSAMPLES (sizeof(ws_samples) / sizeof(ws_samples[0]))

#endif
