/* Docker's multiplexed stdout/stderr stream (attach, exec and logs without a
 * tty): frames of an 8-byte header {stream, 0, 0, 0, size (big endian u32)}
 * followed by size payload bytes. The header comes from the daemon, but a
 * broken or hostile one must not make us write garbage: unknown stream numbers
 * and non-zero padding are refused; payloads are never buffered whole, so a
 * huge size costs nothing but the bytes actually sent. */
#include "cli/cli.h"

void cli_demux_init(struct cli_demux *d)
{
    *d = (struct cli_demux){0};
}

int cli_demux_feed(struct cli_demux *d, const char *data, size_t len, cli_demux_out_fn out,
                   void *opaque, ctr_error_t *err)
{
    while (len > 0) {
        if (d->remaining == 0 && d->hdr_len < CLI_DEMUX_HEADER) {
            size_t take = CLI_DEMUX_HEADER - d->hdr_len;
            if (take > len)
                take = len;
            for (size_t i = 0; i < take; i++)
                d->hdr[d->hdr_len + i] = (uint8_t)data[i];
            d->hdr_len += take;
            data += take;
            len -= take;
            if (d->hdr_len < CLI_DEMUX_HEADER)
                return 0;
            if (d->hdr[0] > 3 || d->hdr[1] || d->hdr[2] || d->hdr[3])
                return ctr_fail(err, 0,
                                "malformed stream from the daemon: frame %llu has header "
                                "%02x %02x %02x %02x (expected stream 0-3 and zero padding)",
                                (unsigned long long)d->frames, d->hdr[0], d->hdr[1], d->hdr[2],
                                d->hdr[3]);
            d->stream = d->hdr[0];
            d->remaining = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
                           (uint32_t)d->hdr[6] << 8 | (uint32_t)d->hdr[7];
            d->frames++;
            if (d->remaining == 0) { /* empty frame: nothing to deliver */
                d->hdr_len = 0;
                continue;
            }
        }
        size_t take = len < d->remaining ? len : d->remaining;
        /* stdin frames (0) never come from a daemon; show them as stdout like docker. */
        int stream = d->stream == 0 ? 1 : d->stream;
        if (out(opaque, stream, data, take) < 0)
            return ctr_fail(err, 0, "writing the container's output failed");
        data += take;
        len -= take;
        d->remaining -= (uint32_t)take;
        if (d->remaining == 0)
            d->hdr_len = 0;
    }
    return 0;
}

int cli_demux_finish(const struct cli_demux *d, ctr_error_t *err)
{
    if (d->remaining > 0)
        return ctr_fail(err, 0, "stream from the daemon ended inside a frame (%u bytes missing)",
                        d->remaining);
    if (d->hdr_len > 0)
        return ctr_fail(err, 0,
                        "stream from the daemon ended inside a frame header (%zu of 8 bytes)",
                        d->hdr_len);
    return 0;
}
