/* The host <-> guest agent protocol (vminitd). Both sides compile this
 * encoder/decoder. Specification: docs/agent-protocol.md.
 *
 * Transport: one virtio-serial port named AGENT_PORT_NAME. The byte stream
 * carries frames: a 12-byte little-endian header followed by `length` bytes.
 *   u32 length   payload bytes, <= AGENT_MAX_PAYLOAD
 *   u32 stream   0 = control stream, >0 = a data stream (stdio, file transfer)
 *   u8  type     enum agent_frame_type
 *   u8  flags    0 (reserved)
 *   u16 reserved 0
 * Control frames carry one JSON object each; data frames carry raw bytes;
 * an EOF frame (no payload) closes one direction of a data stream. */
#ifndef CTR_PROTO_AGENT_H
#define CTR_PROTO_AGENT_H

#include "common/common.h"

#define AGENT_PROTO_VERSION 1
#define AGENT_PORT_NAME "org.container.agent"
#define AGENT_FRAME_HDR_LEN 12
#define AGENT_MAX_PAYLOAD (128u * 1024u) /* any frame */
#define AGENT_MAX_CONTROL (64u * 1024u)  /* a control frame (JSON) */
#define AGENT_CONTROL_STREAM 0u

enum agent_frame_type {
    AGENT_FRAME_CONTROL = 1,
    AGENT_FRAME_DATA = 2,
    AGENT_FRAME_EOF = 3,
};

struct agent_frame {
    uint32_t stream;
    uint8_t type;
    uint32_t length;
    uint8_t *payload; /* owned by the decoder until the next feed; NUL-terminated for convenience */
};

/* Incremental decoder: feed it whatever bytes arrive, in any split. */
struct agent_decoder {
    uint8_t hdr[AGENT_FRAME_HDR_LEN];
    size_t hdr_have;
    uint8_t *payload;
    size_t payload_cap;
    size_t payload_have;
    struct agent_frame cur;
    bool in_payload;
    bool broken; /* after a protocol error every further feed fails */
};

void agent_decoder_init(struct agent_decoder *d);
void agent_decoder_release(struct agent_decoder *d);
/* Consume up to len bytes. Returns 1 when a whole frame is ready in *out (valid until
 * the next call), 0 when all of buf was consumed without completing a frame, -1 on a
 * protocol error (the stream must be dropped). *consumed is always set. */
int agent_decoder_feed(struct agent_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                       struct agent_frame *out, ctr_error_t *err);
/* True when the decoder is between frames (nothing partial buffered). */
bool agent_decoder_idle(const struct agent_decoder *d);

/* Encode a header into hdr (AGENT_FRAME_HDR_LEN bytes). Fails on a bad type/length combination. */
int agent_frame_header(uint8_t *hdr, uint32_t stream, uint8_t type, uint32_t length,
                       ctr_error_t *err);
/* Write one whole frame to fd (blocking, handles short writes). */
int agent_frame_write(int fd, uint32_t stream, uint8_t type, const void *payload, uint32_t length,
                      ctr_error_t *err);

#endif
