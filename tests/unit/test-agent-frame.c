/* Frame layer of the agent protocol: hostile byte streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/agent.h"

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Append a raw header (no validation) to buf. */
static size_t raw_hdr(uint8_t *buf, uint32_t length, uint32_t stream, uint8_t type, uint8_t flags,
                      uint16_t reserved)
{
    put_le32(buf, length);
    put_le32(buf + 4, stream);
    buf[8] = type;
    buf[9] = flags;
    buf[10] = (uint8_t)reserved;
    buf[11] = (uint8_t)(reserved >> 8);
    return AGENT_FRAME_HDR_LEN;
}

static size_t add_frame(uint8_t *buf, uint32_t stream, uint8_t type, const char *payload)
{
    size_t n = payload ? strlen(payload) : 0;
    ctr_error_t err = NULL;
    assert_int_equal(agent_frame_header(buf, stream, type, (uint32_t)n, &err), 0);
    memcpy(buf + AGENT_FRAME_HDR_LEN, payload ? payload : "", n);
    return AGENT_FRAME_HDR_LEN + n;
}

struct expect {
    uint32_t stream;
    uint8_t type;
    const char *payload;
};

static const struct expect sample[] = {
    {0, AGENT_FRAME_CONTROL, "{\"op\":\"hello\",\"id\":1,\"version\":1}"},
    {3, AGENT_FRAME_DATA, "hello world\n"},
    {3, AGENT_FRAME_DATA, ""},
    {3, AGENT_FRAME_EOF, NULL},
    {0xffffffffu, AGENT_FRAME_DATA, "x"},
    {0, AGENT_FRAME_CONTROL, "{}"},
};
#define N_SAMPLE (sizeof(sample) / sizeof(sample[0]))

static size_t build_sample(uint8_t *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < N_SAMPLE; i++)
        n += add_frame(buf + n, sample[i].stream, sample[i].type, sample[i].payload);
    return n;
}

/* Feed buf in pieces of at most `chunk` bytes, starting with a first piece of `first`
 * bytes; check every frame against the sample. */
static void feed_split(const uint8_t *buf, size_t len, size_t first, size_t chunk)
{
    struct agent_decoder d;
    size_t off = 0, got = 0;

    agent_decoder_init(&d);
    while (off < len) {
        size_t piece = off == 0 ? first : chunk;
        if (piece > len - off)
            piece = len - off;
        size_t pos = 0;
        do {
            struct agent_frame f;
            size_t used;
            ctr_error_t err = NULL;
            int r = agent_decoder_feed(&d, buf + off + pos, piece - pos, &used, &f, &err);
            assert_int_not_equal(r, -1);
            pos += used;
            if (r == 1) {
                assert_true(got < N_SAMPLE);
                const struct expect *e = &sample[got++];
                assert_int_equal(f.stream, e->stream);
                assert_int_equal(f.type, e->type);
                size_t plen = e->payload ? strlen(e->payload) : 0;
                assert_int_equal(f.length, plen);
                assert_memory_equal(f.payload, e->payload ? e->payload : "", plen);
                assert_int_equal(f.payload[plen], '\0');
            }
        } while (pos < piece);
        off += piece;
    }
    assert_int_equal(got, N_SAMPLE);
    assert_true(agent_decoder_idle(&d));
    agent_decoder_release(&d);
}

static void test_split_every_offset(void **state)
{
    uint8_t buf[1024];
    size_t len = build_sample(buf);

    for (size_t first = 1; first <= len; first++)
        feed_split(buf, len, first, len);
    feed_split(buf, len, 1, 1);
    feed_split(buf, len, 7, 5);
}

static void test_truncated(void **state)
{
    uint8_t buf[256];
    size_t len = add_frame(buf, 0, AGENT_FRAME_CONTROL, "{\"id\":1}");

    for (size_t cut = 0; cut < len; cut++) {
        struct agent_decoder d;
        struct agent_frame f;
        size_t used;
        ctr_error_t err = NULL;
        agent_decoder_init(&d);
        assert_int_equal(agent_decoder_feed(&d, buf, cut, &used, &f, &err), 0);
        assert_int_equal(used, cut);
        assert_true(agent_decoder_idle(&d) == (cut == 0));
        agent_decoder_release(&d);
    }
}

/* A bad header must fail, leave the decoder broken, and never allocate by its length. */
static void expect_reject(const uint8_t *hdr, const char *needle)
{
    struct agent_decoder d;
    struct agent_frame f;
    size_t used;
    ctr_error_t err = NULL;

    agent_decoder_init(&d);
    assert_int_equal(agent_decoder_feed(&d, hdr, AGENT_FRAME_HDR_LEN, &used, &f, &err), -1);
    assert_non_null(err);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("error `%s` does not mention `%s`", err->msg, needle);
    assert_int_equal(err->errnum, EPROTO);
    ctr_error_free(&err);
    assert_true(d.payload_cap == 0);
    /* broken for good, even for a valid frame afterwards */
    uint8_t ok[64];
    size_t n = add_frame(ok, 1, AGENT_FRAME_DATA, "x");
    assert_int_equal(agent_decoder_feed(&d, ok, n, &used, &f, &err), -1);
    ctr_error_free(&err);
    agent_decoder_release(&d);
}

static void test_hostile_headers(void **state)
{
    uint8_t h[AGENT_FRAME_HDR_LEN];

    raw_hdr(h, 0xffffffffu, 1, AGENT_FRAME_DATA, 0, 0);
    expect_reject(h, "data frame of");
    raw_hdr(h, AGENT_MAX_PAYLOAD + 1, 1, AGENT_FRAME_DATA, 0, 0);
    expect_reject(h, "data frame of");
    raw_hdr(h, AGENT_MAX_CONTROL + 1, 0, AGENT_FRAME_CONTROL, 0, 0);
    expect_reject(h, "control frame of");
    raw_hdr(h, 0, 0, AGENT_FRAME_CONTROL, 0, 0);
    expect_reject(h, "control frame of");
    raw_hdr(h, 10, 0, 0, 0, 0);
    expect_reject(h, "unknown frame type");
    raw_hdr(h, 10, 1, 4, 0, 0);
    expect_reject(h, "unknown frame type");
    raw_hdr(h, 10, 1, 255, 0, 0);
    expect_reject(h, "unknown frame type");
    raw_hdr(h, 10, 1, AGENT_FRAME_DATA, 1, 0);
    expect_reject(h, "reserved");
    raw_hdr(h, 10, 1, AGENT_FRAME_DATA, 0x80, 0);
    expect_reject(h, "reserved");
    raw_hdr(h, 10, 1, AGENT_FRAME_DATA, 0, 0x100);
    expect_reject(h, "reserved");
    raw_hdr(h, 10, 7, AGENT_FRAME_CONTROL, 0, 0);
    expect_reject(h, "control frame on data stream");
    raw_hdr(h, 10, 0, AGENT_FRAME_DATA, 0, 0);
    expect_reject(h, "data frame on the control stream");
    raw_hdr(h, 0, 0, AGENT_FRAME_EOF, 0, 0);
    expect_reject(h, "eof frame on the control stream");
    raw_hdr(h, 1, 2, AGENT_FRAME_EOF, 0, 0);
    expect_reject(h, "eof frame with");
}

/* A bad frame after good ones: the good ones come out, then the error. */
static void test_bad_after_good(void **state)
{
    uint8_t buf[256];
    size_t n = add_frame(buf, 2, AGENT_FRAME_DATA, "abc");
    n += raw_hdr(buf + n, 5, 2, 9, 0, 0);
    struct agent_decoder d;
    struct agent_frame f;
    size_t used;
    ctr_error_t err = NULL;

    agent_decoder_init(&d);
    assert_int_equal(agent_decoder_feed(&d, buf, n, &used, &f, &err), 1);
    assert_int_equal(used, AGENT_FRAME_HDR_LEN + 3);
    assert_int_equal(agent_decoder_feed(&d, buf + used, n - used, &used, &f, &err), -1);
    ctr_error_free(&err);
    agent_decoder_release(&d);
}

static void test_header_encoder_rejects(void **state)
{
    uint8_t h[AGENT_FRAME_HDR_LEN];
    ctr_error_t err = NULL;

    assert_int_equal(agent_frame_header(h, 1, AGENT_FRAME_CONTROL, 5, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(agent_frame_header(h, 0, AGENT_FRAME_DATA, 5, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(agent_frame_header(h, 1, AGENT_FRAME_DATA, AGENT_MAX_PAYLOAD + 1, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(agent_frame_header(h, 1, AGENT_FRAME_EOF, 1, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(agent_frame_header(h, 1, 0, 0, &err), -1);
    ctr_error_free(&err);
    assert_int_equal(agent_frame_header(h, 1, AGENT_FRAME_DATA, AGENT_MAX_PAYLOAD, &err), 0);
}

/* agent_frame_write through a pipe, with a maximal data frame. */
static void test_write_pipe(void **state)
{
    int p[2];
    uint8_t *big = malloc(AGENT_MAX_PAYLOAD), *rd = malloc(AGENT_MAX_PAYLOAD + 64);
    ctr_error_t err = NULL;
    struct agent_decoder d;
    struct agent_frame f;
    size_t used, total = 0;

    for (size_t i = 0; i < AGENT_MAX_PAYLOAD; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(pipe(p), 0);
    if (fork() == 0) {
        close(p[0]);
        int r = agent_frame_write(p[1], 9, AGENT_FRAME_DATA, big, AGENT_MAX_PAYLOAD, &err);
        _exit(r == 0 ? 0 : 1);
    }
    close(p[1]);
    for (;;) {
        ssize_t n = read(p[0], rd + total, AGENT_MAX_PAYLOAD + 64 - total);
        assert_true(n >= 0);
        if (n == 0)
            break;
        total += (size_t)n;
    }
    close(p[0]);
    assert_int_equal(total, AGENT_FRAME_HDR_LEN + AGENT_MAX_PAYLOAD);
    agent_decoder_init(&d);
    assert_int_equal(agent_decoder_feed(&d, rd, total, &used, &f, &err), 1);
    assert_int_equal(f.stream, 9);
    assert_int_equal(f.length, AGENT_MAX_PAYLOAD);
    assert_memory_equal(f.payload, big, AGENT_MAX_PAYLOAD);
    agent_decoder_release(&d);
    free(big);
    free(rd);
}

/* Random bytes must never crash the decoder, nor make it allocate past the limit. */
static void test_random_garbage(void **state)
{
    uint32_t seed = 12345;
    uint8_t buf[512];

    for (int round = 0; round < 2000; round++) {
        struct agent_decoder d;
        size_t len = 0;
        agent_decoder_init(&d);
        for (size_t i = 0; i < sizeof(buf); i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        /* Sometimes make the first header plausible so payload paths get exercised. */
        if (round % 2)
            raw_hdr(buf, (seed >> 8) % 600, round % 3, 1 + round % 3, 0, 0);
        while (len < sizeof(buf)) {
            struct agent_frame f;
            size_t used;
            ctr_error_t err = NULL;
            int r = agent_decoder_feed(&d, buf + len, sizeof(buf) - len, &used, &f, &err);
            assert_true(used <= sizeof(buf) - len);
            len += used;
            if (r < 0) {
                ctr_error_free(&err);
                break;
            }
            if (r == 0)
                break;
            assert_true(f.length <= AGENT_MAX_PAYLOAD);
        }
        assert_true(d.payload_cap <= AGENT_MAX_PAYLOAD + 1);
        agent_decoder_release(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_every_offset),     cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_hostile_headers),        cmocka_unit_test(test_bad_after_good),
        cmocka_unit_test(test_header_encoder_rejects), cmocka_unit_test(test_write_pipe),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
