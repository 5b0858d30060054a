// XXH64 (Yann Collet's xxHash, 64-bit variant), streaming form. Used as xfer's whole-stream
// digest: it runs at several times loopback wire speed and every language has it.

#include "CXferChecksums.h"

#include <string.h>

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t read64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t read32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t input) {
    acc += input * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static inline uint64_t merge_round(uint64_t acc, uint64_t val) {
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

void xfer_xxh64_reset(xfer_xxh64_state *s, uint64_t seed) {
    memset(s, 0, sizeof(*s));
    s->seed = seed;
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
}

void xfer_xxh64_update(xfer_xxh64_state *s, const void *bytes, size_t count) {
    const uint8_t *p = bytes;
    const uint8_t *end = p + count;
    s->total_length += count;
    if (s->buffered + count < 32) {
        memcpy(s->buffer + s->buffered, p, count);
        s->buffered += (uint32_t)count;
        return;
    }
    if (s->buffered) {
        size_t fill = 32 - s->buffered;
        memcpy(s->buffer + s->buffered, p, fill);
        for (int i = 0; i < 4; i++) s->v[i] = round64(s->v[i], read64(s->buffer + 8 * i));
        p += fill;
        s->buffered = 0;
    }
    if (end - p >= 32) {
        uint64_t v0 = s->v[0], v1 = s->v[1], v2 = s->v[2], v3 = s->v[3];
        const uint8_t *limit = end - 32;
        do {
            v0 = round64(v0, read64(p));
            v1 = round64(v1, read64(p + 8));
            v2 = round64(v2, read64(p + 16));
            v3 = round64(v3, read64(p + 24));
            p += 32;
        } while (p <= limit);
        s->v[0] = v0;
        s->v[1] = v1;
        s->v[2] = v2;
        s->v[3] = v3;
    }
    if (p < end) {
        memcpy(s->buffer, p, (size_t)(end - p));
        s->buffered = (uint32_t)(end - p);
    }
}

uint64_t xfer_xxh64_digest(const xfer_xxh64_state *s) {
    uint64_t h;
    if (s->total_length >= 32) {
        h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
        for (int i = 0; i < 4; i++) h = merge_round(h, s->v[i]);
    } else {
        h = s->seed + P5;
    }
    h += s->total_length;
    const uint8_t *p = s->buffer;
    const uint8_t *end = p + s->buffered;
    while (end - p >= 8) {
        h ^= round64(0, read64(p));
        h = rotl(h, 27) * P1 + P4;
        p += 8;
    }
    if (end - p >= 4) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p++) * P5;
        h = rotl(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}
