/* GET /containers/{id}/attach/ws: the attach stream over a WebSocket (RFC 6455, the
 * minimum: the handshake, unfragmented and continued text/binary frames from the client,
 * ping/pong, close). The attach service works on a plain socket (one end of a
 * socketpair); this file moves bytes between it and the frames. As Docker, what the
 * container writes goes out as text frames, raw (no stream headers). */
#include "daemon/api/api.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_FRAME (1u << 20) /* a client frame larger than this closes the socket */

char *api_ws_accept(const char *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    cleanup_free char *in = ctr_xasprintf("%s%s", key, WS_GUID);
    if (EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL) != 1)
        return NULL;
    char *out = ctr_xmalloc(4 * ((mdlen + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return out;
}

static int ws_send(int fd, int opcode, const void *data, size_t len)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    return ctr_send_all(fd, h, hl) < 0 || ctr_send_all(fd, data, len) < 0 ? -1 : 0;
}

/* One frame from buf[0..n): its length (0 when incomplete, -1 when bad); the payload is
 * unmasked in place. */
static ssize_t ws_frame(uint8_t *buf, size_t n, int *opcode, uint8_t **payload, size_t *plen)
{
    if (n < 2)
        return 0;
    *opcode = buf[0] & 0x0f;
    bool masked = buf[1] & 0x80;
    uint64_t len = buf[1] & 0x7f;
    size_t off = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)buf[2] << 8 | buf[3];
        off = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | buf[2 + i];
        off = 10;
    }
    if (len > WS_MAX_FRAME || !masked) /* RFC 6455 5.1: a client masks every frame */
        return -1;
    if (n < off + 4 + len)
        return 0;
    uint8_t *key = buf + off;
    off += 4;
    for (size_t i = 0; i < len; i++)
        buf[off + i] ^= key[i % 4];
    *payload = buf + off;
    *plen = (size_t)len;
    return (ssize_t)(off + len);
}

void api_ws_bridge(int ws_fd, const char *pre, size_t pre_len, int local_fd)
{
    size_t cap = WS_MAX_FRAME + 16, have = 0;
    cleanup_free uint8_t *in = ctr_xmalloc(cap);
    uint8_t out[32768];
    bool closing = false;

    if (pre_len > cap)
        return;
    memcpy(in, pre, pre_len);
    have = pre_len;
    for (;;) {
        /* frames already buffered */
        for (;;) {
            int op;
            uint8_t *pl;
            size_t plen;
            ssize_t used = ws_frame(in, have, &op, &pl, &plen);
            if (used < 0)
                return;
            if (used == 0)
                break;
            if ((op == 0 || op == 1 || op == 2) && plen && ctr_send_all(local_fd, pl, plen) < 0)
                closing = true;
            else if (op == 9)
                ws_send(ws_fd, 10, pl, plen); /* pong */
            else if (op == 8) {
                ws_send(ws_fd, 8, pl, plen < 2 ? plen : 2); /* the close echoed */
                return;
            }
            memmove(in, in + used, have - (size_t)used);
            have -= (size_t)used;
        }
        if (closing)
            break;
        struct pollfd p[2] = {{.fd = ws_fd, .events = POLLIN}, {.fd = local_fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(ws_fd, in + have, cap - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return;
            have += (size_t)n;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(local_fd, out, sizeof(out));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* the attach ended */
            if (ws_send(ws_fd, 1, out, (size_t)n) < 0)
                return;
        }
    }
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000: normal closure */
    ws_send(ws_fd, 8, normal, sizeof(normal));
}
