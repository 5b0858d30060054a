// SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), HKDF-SHA256 (RFC 5869) and a constant-time
// comparison, for xfer's pre-shared-key authentication.
//
// Two compression functions: a portable one in plain C, and one using the x86 SHA extensions
// (sha256rnds2 / sha256msg1 / sha256msg2), compiled with `__attribute__((target(...)))` and
// chosen at run time with `__builtin_cpu_supports`, the way crc32c.c reaches the CRC
// instruction without `unsafeFlags`. A context records which one it uses, so tests can run
// both on the same input.

#include "CXferChecksums.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_SHA_NI 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

// Clears memory that held key material in a way the compiler may not drop as a dead store.
static void wipe(void *p, size_t count) {
    memset(p, 0, count);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// MARK: - Portable compression

#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (rotr((x), 2) ^ rotr((x), 13) ^ rotr((x), 22))
#define BSIG1(x) (rotr((x), 6) ^ rotr((x), 11) ^ rotr((x), 25))
#define SSIG0(x) (rotr((x), 7) ^ rotr((x), 18) ^ ((x) >> 3))
#define SSIG1(x) (rotr((x), 17) ^ rotr((x), 19) ^ ((x) >> 10))

// One round; the eight working variables rotate by renaming instead of by moving.
#define ROUND(a, b, c, d, e, f, g, h, i, w)                            \
    do {                                                               \
        uint32_t t1 = (h) + BSIG1(e) + CH((e), (f), (g)) + K[i] + (w); \
        uint32_t t2 = BSIG0(a) + MAJ((a), (b), (c));                   \
        (d) += t1;                                                     \
        (h) = t1 + t2;                                                 \
    } while (0)

static void compress_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    while (blocks--) {
        // The message schedule as a 16-word ring: W[t] for t >= 16 replaces W[t - 16].
        uint32_t w[16];
        for (int t = 0; t < 16; t++) w[t] = load_be32(data + 4 * t);
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t += 8) {
            if (t >= 16) {
                for (int j = 0; j < 8; j++) {
                    int i = t + j;
                    w[i & 15] += SSIG1(w[(i - 2) & 15]) + w[(i - 7) & 15] + SSIG0(w[(i - 15) & 15]);
                }
            }
            ROUND(a, b, c, d, e, f, g, h, t + 0, w[(t + 0) & 15]);
            ROUND(h, a, b, c, d, e, f, g, t + 1, w[(t + 1) & 15]);
            ROUND(g, h, a, b, c, d, e, f, t + 2, w[(t + 2) & 15]);
            ROUND(f, g, h, a, b, c, d, e, t + 3, w[(t + 3) & 15]);
            ROUND(e, f, g, h, a, b, c, d, t + 4, w[(t + 4) & 15]);
            ROUND(d, e, f, g, h, a, b, c, t + 5, w[(t + 5) & 15]);
            ROUND(c, d, e, f, g, h, a, b, t + 6, w[(t + 6) & 15]);
            ROUND(b, c, d, e, f, g, h, a, t + 7, w[(t + 7) & 15]);
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
        data += 64;
    }
}

// MARK: - SHA extensions (x86-64)

#if defined(HAVE_SHA_NI)
// The SHA-NI round instruction works on the state split as ABEF and CDGH (in that lane
// order, A in the top lane) and does two rounds per call, taking the two message-plus-
// constant words from the low half of its third operand. Each group of four rounds g uses
// schedule words W[4g..4g+3], kept in a ring of four registers: sha256msg1 starts group
// g + 3 from groups g - 1 and g; sha256msg2 finishes group g + 1 from it, groups g - 1 and g.
__attribute__((target("sha,sse4.1"))) static void compress_sha_ni(uint32_t state[8], const uint8_t *data,
                                                                   size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i dcba = _mm_loadu_si128((const void *)&state[0]);
    __m128i hgfe = _mm_loadu_si128((const void *)&state[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

    while (blocks--) {
        const __m128i abef_saved = abef;
        const __m128i cdgh_saved = cdgh;
        __m128i w[4];
        // Fully unrolled, the ring indices are constants and w stays in registers.
#if defined(__clang__)
#pragma clang loop unroll(full)
#elif defined(__GNUC__)
#pragma GCC unroll 16
#endif
        for (int g = 0; g < 16; g++) {
            if (g < 4) w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(data + 16 * g)), byte_swap);
            __m128i wk = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const void *)&K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            if (g >= 3 && g <= 14) {
                __m128i previous = _mm_alignr_epi8(w[g & 3], w[(g - 1) & 3], 4);
                w[(g + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[(g + 1) & 3], previous), w[g & 3]);
            }
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
            if (g >= 1 && g <= 12) w[(g - 1) & 3] = _mm_sha256msg1_epu32(w[(g - 1) & 3], w[g & 3]);
        }
        abef = _mm_add_epi32(abef, abef_saved);
        cdgh = _mm_add_epi32(cdgh, cdgh_saved);
        data += 64;
    }

    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    dcba = _mm_blend_epi16(feba, dchg, 0xF0);
    hgfe = _mm_alignr_epi8(dchg, feba, 8);
    _mm_storeu_si128((void *)&state[0], dcba);
    _mm_storeu_si128((void *)&state[4], hgfe);
}
#endif

// MARK: - Selection

static int hardware_available;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if defined(HAVE_SHA_NI)
    __builtin_cpu_init();
    hardware_available = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#else
    hardware_available = 0;
#endif
}

int xfer_sha256_hardware_available(void) {
    pthread_once(&once, detect);
    return hardware_available;
}

static void compress(xfer_sha256_context *ctx, const uint8_t *data, size_t blocks) {
#if defined(HAVE_SHA_NI)
    if (ctx->implementation == XFER_SHA256_HARDWARE) {
        compress_sha_ni(ctx->state, data, blocks);
        return;
    }
#endif
    compress_portable(ctx->state, data, blocks);
}

// MARK: - SHA-256

int xfer_sha256_init_with(xfer_sha256_context *ctx, int implementation) {
    int result = 0;
    memcpy(ctx->state, H0, sizeof(H0));
    ctx->length = 0;
    memset(ctx->buffer, 0, sizeof(ctx->buffer));
    ctx->buffered = 0;
    switch (implementation) {
    case XFER_SHA256_BEST:
        implementation = xfer_sha256_hardware_available() ? XFER_SHA256_HARDWARE : XFER_SHA256_PORTABLE;
        break;
    case XFER_SHA256_PORTABLE:
        break;
    case XFER_SHA256_HARDWARE:
        if (!xfer_sha256_hardware_available()) {
            implementation = XFER_SHA256_PORTABLE;
            result = -1;
        }
        break;
    default:
        implementation = XFER_SHA256_PORTABLE;
        result = -1;
    }
    ctx->implementation = (uint32_t)implementation;
    return result;
}

void xfer_sha256_init(xfer_sha256_context *ctx) { (void)xfer_sha256_init_with(ctx, XFER_SHA256_BEST); }

void xfer_sha256_update(xfer_sha256_context *ctx, const void *bytes, size_t count) {
    if (count == 0) return;
    const uint8_t *p = bytes;
    ctx->length += count;
    if (ctx->buffered) {
        size_t take = 64 - ctx->buffered;
        if (take > count) take = count;
        memcpy(ctx->buffer + ctx->buffered, p, take);
        ctx->buffered += (uint32_t)take;
        p += take;
        count -= take;
        if (ctx->buffered < 64) return;
        compress(ctx, ctx->buffer, 1);
        ctx->buffered = 0;
    }
    if (count >= 64) {
        size_t blocks = count / 64;
        compress(ctx, p, blocks);
        p += blocks * 64;
        count -= blocks * 64;
    }
    if (count) {
        memcpy(ctx->buffer, p, count);
        ctx->buffered = (uint32_t)count;
    }
}

void xfer_sha256_final(xfer_sha256_context *ctx, uint8_t digest[XFER_SHA256_DIGEST_SIZE]) {
    // Padding (FIPS 180-4 §5.1.1): 0x80, zeros to 56 mod 64, then the length in bits as a
    // 64-bit big-endian integer; a second block when fewer than 9 bytes are left.
    uint64_t bits = ctx->length << 3;
    uint32_t n = ctx->buffered;
    ctx->buffer[n++] = 0x80;
    if (n > 56) {
        memset(ctx->buffer + n, 0, 64 - n);
        compress(ctx, ctx->buffer, 1);
        n = 0;
    }
    memset(ctx->buffer + n, 0, 56 - n);
    store_be32(ctx->buffer + 56, (uint32_t)(bits >> 32));
    store_be32(ctx->buffer + 60, (uint32_t)bits);
    compress(ctx, ctx->buffer, 1);
    for (int i = 0; i < 8; i++) store_be32(digest + 4 * i, ctx->state[i]);
    wipe(ctx, sizeof(*ctx));
}

void xfer_sha256(const void *bytes, size_t count, uint8_t digest[XFER_SHA256_DIGEST_SIZE]) {
    xfer_sha256_context ctx;
    xfer_sha256_init(&ctx);
    xfer_sha256_update(&ctx, bytes, count);
    xfer_sha256_final(&ctx, digest);
}

// MARK: - HMAC-SHA256

int xfer_hmac_sha256_init_with(xfer_hmac_sha256_context *ctx, const void *key, size_t key_count,
                               int implementation) {
    // A key longer than a block is replaced by its hash; a shorter one is padded with zeros.
    uint8_t block[64] = {0};
    int result = xfer_sha256_init_with(&ctx->inner, implementation);
    implementation = (int)ctx->inner.implementation;
    if (key_count > 64) {
        xfer_sha256_context hashed;
        xfer_sha256_init_with(&hashed, implementation);
        xfer_sha256_update(&hashed, key, key_count);
        xfer_sha256_final(&hashed, block);
    } else if (key_count) {
        memcpy(block, key, key_count);
    }
    uint8_t pad[64];
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    xfer_sha256_update(&ctx->inner, pad, 64);
    xfer_sha256_init_with(&ctx->outer, implementation);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    xfer_sha256_update(&ctx->outer, pad, 64);
    wipe(block, sizeof(block));
    wipe(pad, sizeof(pad));
    return result;
}

void xfer_hmac_sha256_init(xfer_hmac_sha256_context *ctx, const void *key, size_t key_count) {
    (void)xfer_hmac_sha256_init_with(ctx, key, key_count, XFER_SHA256_BEST);
}

void xfer_hmac_sha256_update(xfer_hmac_sha256_context *ctx, const void *bytes, size_t count) {
    xfer_sha256_update(&ctx->inner, bytes, count);
}

void xfer_hmac_sha256_final(xfer_hmac_sha256_context *ctx, uint8_t mac[XFER_SHA256_DIGEST_SIZE]) {
    uint8_t inner[XFER_SHA256_DIGEST_SIZE];
    xfer_sha256_final(&ctx->inner, inner);
    xfer_sha256_update(&ctx->outer, inner, sizeof(inner));
    xfer_sha256_final(&ctx->outer, mac);
    wipe(inner, sizeof(inner));
}

void xfer_hmac_sha256(const void *key, size_t key_count, const void *bytes, size_t count,
                      uint8_t mac[XFER_SHA256_DIGEST_SIZE]) {
    xfer_hmac_sha256_context ctx;
    xfer_hmac_sha256_init(&ctx, key, key_count);
    xfer_hmac_sha256_update(&ctx, bytes, count);
    xfer_hmac_sha256_final(&ctx, mac);
}

// MARK: - HKDF-SHA256

void xfer_hkdf_sha256_extract(const void *salt, size_t salt_count, const void *input_key_material,
                              size_t input_count, uint8_t pseudorandom_key[XFER_SHA256_DIGEST_SIZE]) {
    // No salt means HashLen zero bytes (RFC 5869 §2.2); HMAC pads an empty key with zeros
    // to the block size, so an empty key gives the same result without a special case.
    xfer_hmac_sha256(salt, salt_count, input_key_material, input_count, pseudorandom_key);
}

int xfer_hkdf_sha256_expand(const void *pseudorandom_key, size_t key_count, const void *info, size_t info_count,
                            void *output, size_t output_count) {
    if (output_count > XFER_HKDF_SHA256_MAXIMUM_OUTPUT) return -1;
    // T(0) is empty; T(i) = HMAC(PRK, T(i - 1) | info | i); the output is T(1) | T(2) | ...
    xfer_hmac_sha256_context keyed, ctx;
    xfer_hmac_sha256_init(&keyed, pseudorandom_key, key_count);
    uint8_t t[XFER_SHA256_DIGEST_SIZE];
    uint8_t *out = output;
    size_t done = 0;
    for (unsigned i = 1; done < output_count; i++) {
        ctx = keyed;
        if (i > 1) xfer_hmac_sha256_update(&ctx, t, sizeof(t));
        xfer_hmac_sha256_update(&ctx, info, info_count);
        uint8_t counter = (uint8_t)i;
        xfer_hmac_sha256_update(&ctx, &counter, 1);
        xfer_hmac_sha256_final(&ctx, t);
        size_t take = output_count - done < sizeof(t) ? output_count - done : sizeof(t);
        memcpy(out + done, t, take);
        done += take;
    }
    wipe(&keyed, sizeof(keyed));
    wipe(t, sizeof(t));
    return 0;
}

// MARK: - Constant-time comparison

int xfer_constant_time_equal(const void *a, const void *b, size_t count) {
    const uint8_t *x = a, *y = b;
    uint32_t difference = 0;
    for (size_t i = 0; i < count; i++) difference |= (uint32_t)(x[i] ^ y[i]);
    // Keep the compiler from reasoning about the value (and so from exiting the loop early).
    __asm__ __volatile__("" : "+r"(difference));
    // difference is 0..255: difference - 1 wraps to all ones only when it is 0.
    return (int)((difference - 1) >> 31);
}
