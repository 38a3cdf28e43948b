#include "proto/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int check_header(uint32_t stream, uint8_t type, uint32_t length, ctr_error_t *err)
{
    switch (type) {
    case AGENT_FRAME_CONTROL:
        if (stream != AGENT_CONTROL_STREAM)
            return ctr_fail(err, EPROTO, "control frame on data stream %u", stream);
        if (length == 0 || length > AGENT_MAX_CONTROL)
            return ctr_fail(err, EPROTO, "control frame of %u bytes (limit %u)", length,
                            AGENT_MAX_CONTROL);
        return 0;
    case AGENT_FRAME_DATA:
        if (stream == AGENT_CONTROL_STREAM)
            return ctr_fail(err, EPROTO, "data frame on the control stream");
        if (length > AGENT_MAX_PAYLOAD)
            return ctr_fail(err, EPROTO, "data frame of %u bytes (limit %u)", length,
                            AGENT_MAX_PAYLOAD);
        return 0;
    case AGENT_FRAME_EOF:
        if (stream == AGENT_CONTROL_STREAM)
            return ctr_fail(err, EPROTO, "eof frame on the control stream");
        if (length != 0)
            return ctr_fail(err, EPROTO, "eof frame with %u payload bytes", length);
        return 0;
    default:
        return ctr_fail(err, EPROTO, "unknown frame type %u", type);
    }
}

void agent_decoder_init(struct agent_decoder *d)
{
    memset(d, 0, sizeof(*d));
}

void agent_decoder_release(struct agent_decoder *d)
{
    free(d->payload);
    memset(d, 0, sizeof(*d));
}

bool agent_decoder_idle(const struct agent_decoder *d)
{
    return !d->in_payload && d->hdr_have == 0;
}

int agent_decoder_feed(struct agent_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                       struct agent_frame *out, ctr_error_t *err)
{
    size_t used = 0;

    *consumed = 0;
    if (d->broken)
        return ctr_fail(err, EPROTO, "agent stream already failed");
    while (used < len || (d->in_payload && d->payload_have == d->cur.length)) {
        if (!d->in_payload) {
            size_t want = AGENT_FRAME_HDR_LEN - d->hdr_have;
            size_t take = len - used < want ? len - used : want;
            memcpy(d->hdr + d->hdr_have, buf + used, take);
            d->hdr_have += take;
            used += take;
            if (d->hdr_have < AGENT_FRAME_HDR_LEN)
                break;
            d->cur.length = get_le32(d->hdr);
            d->cur.stream = get_le32(d->hdr + 4);
            d->cur.type = d->hdr[8];
            if (d->hdr[9] != 0 || d->hdr[10] != 0 || d->hdr[11] != 0) {
                d->broken = true;
                *consumed = used;
                return ctr_fail(err, EPROTO, "frame header with reserved bits set");
            }
            if (check_header(d->cur.stream, d->cur.type, d->cur.length, err) < 0) {
                d->broken = true;
                *consumed = used;
                return -1;
            }
            if (d->payload_cap < (size_t)d->cur.length + 1) {
                d->payload_cap = (size_t)d->cur.length + 1;
                d->payload = ctr_xrealloc(d->payload, d->payload_cap);
            }
            d->payload_have = 0;
            d->in_payload = true;
        }
        if (d->payload_have < d->cur.length) {
            size_t want = d->cur.length - d->payload_have;
            size_t take = len - used < want ? len - used : want;
            memcpy(d->payload + d->payload_have, buf + used, take);
            d->payload_have += take;
            used += take;
        }
        if (d->payload_have == d->cur.length) {
            d->payload[d->cur.length] = '\0';
            d->cur.payload = d->payload;
            *out = d->cur;
            d->in_payload = false;
            d->hdr_have = 0;
            *consumed = used;
            return 1;
        }
    }
    *consumed = used;
    return 0;
}

int agent_frame_header(uint8_t *hdr, uint32_t stream, uint8_t type, uint32_t length,
                       ctr_error_t *err)
{
    if (check_header(stream, type, length, err) < 0)
        return -1;
    put_le32(hdr, length);
    put_le32(hdr + 4, stream);
    hdr[8] = type;
    hdr[9] = hdr[10] = hdr[11] = 0;
    return 0;
}

int agent_frame_write(int fd, uint32_t stream, uint8_t type, const void *payload, uint32_t length,
                      ctr_error_t *err)
{
    uint8_t hdr[AGENT_FRAME_HDR_LEN];
    struct iovec iov[2];
    size_t total = AGENT_FRAME_HDR_LEN + length, done = 0;

    if (agent_frame_header(hdr, stream, type, length, err) < 0)
        return -1;
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)payload;
    iov[1].iov_len = length;
    while (done < total) {
        struct iovec v[2];
        int n = 0;
        size_t skip = done;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            v[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
            v[n].iov_len = iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
        ssize_t r = writev(fd, v, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ctr_fail(err, errno, "write agent frame");
        }
        done += (size_t)r;
    }
    return 0;
}
