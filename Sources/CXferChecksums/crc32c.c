// CRC-32C, three ways: one table-driven (slicing-by-8, portable) and one using the CPU's
// CRC instruction on three interleaved lanes. The instruction has a latency of three cycles
// and a throughput of one, so three independent lanes keep it busy; the lanes' CRCs are
// merged with precomputed "shift by N zero bytes" tables (Mark Adler's crc32c.c method).

#include "CXferChecksums.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

#define POLY 0x82f63b78u

static uint32_t table[8][256];
// Lane lengths for the hardware path: long lanes for big buffers, short for the rest.
#define LONG_LANE 8192
#define SHORT_LANE 256
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static int hardware_available;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) square[n] = gf2_matrix_times(mat, mat[n]);
}

// Builds the operator that appends `len` zero bytes to a CRC; `len` is a power of two.
static void zeros_operator(uint32_t *even, size_t len) {
    uint32_t odd[32];
    odd[0] = POLY;
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_matrix_square(even, odd);  // two zero bits
    gf2_matrix_square(odd, even);  // four zero bits
    do {
        gf2_matrix_square(even, odd);
        len >>= 1;
        if (len == 0) return;
        gf2_matrix_square(odd, even);
        len >>= 1;
    } while (len);
    memcpy(even, odd, sizeof(odd));
}

static void zeros_table(uint32_t zeros[4][256], size_t len) {
    uint32_t op[32];
    zeros_operator(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = gf2_matrix_times(op, n);
        zeros[1][n] = gf2_matrix_times(op, n << 8);
        zeros[2][n] = gf2_matrix_times(op, n << 16);
        zeros[3][n] = gf2_matrix_times(op, n << 24);
    }
}

static inline uint32_t shift(uint32_t zeros[4][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static void initialize(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ POLY : crc >> 1;
        table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = table[0][crc & 0xff] ^ (crc >> 8);
            table[k][n] = crc;
        }
    }
    zeros_table(shift_long, LONG_LANE);
    zeros_table(shift_short, SHORT_LANE);
#if defined(__x86_64__)
    __builtin_cpu_init();
    hardware_available = __builtin_cpu_supports("sse4.2");
#elif defined(__aarch64__)
    hardware_available = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
    hardware_available = 0;
#endif
}

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t xfer_crc32c_table(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&once, initialize);
    const unsigned char *next = bytes;
    uint64_t c = crc ^ 0xffffffffu;
    while (count && ((uintptr_t)next & 7)) {
        c = table[0][(c ^ *next++) & 0xff] ^ (c >> 8);
        count--;
    }
    while (count >= 8) {
        c ^= load64(next);
        c = table[7][c & 0xff] ^ table[6][(c >> 8) & 0xff] ^ table[5][(c >> 16) & 0xff] ^
            table[4][(c >> 24) & 0xff] ^ table[3][(c >> 32) & 0xff] ^ table[2][(c >> 40) & 0xff] ^
            table[1][(c >> 48) & 0xff] ^ table[0][c >> 56];
        next += 8;
        count -= 8;
    }
    while (count) {
        c = table[0][(c ^ *next++) & 0xff] ^ (c >> 8);
        count--;
    }
    return (uint32_t)c ^ 0xffffffffu;
}

#if defined(__x86_64__)
#define HW_TARGET __attribute__((target("sse4.2")))
#define CRC8(c, b) _mm_crc32_u8((uint32_t)(c), (b))
#define CRC64(c, v) _mm_crc32_u64((c), (v))
#elif defined(__aarch64__)
#define HW_TARGET __attribute__((target("crc")))
#define CRC8(c, b) __builtin_arm_crc32cb((uint32_t)(c), (b))
#define CRC64(c, v) __builtin_arm_crc32cd((uint32_t)(c), (v))
#endif

#if defined(HW_TARGET)
HW_TARGET uint32_t xfer_crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&once, initialize);
    const unsigned char *next = bytes;
    uint64_t crc0 = crc ^ 0xffffffffu, crc1, crc2;
    while (count && ((uintptr_t)next & 7)) {
        crc0 = CRC8(crc0, *next++);
        count--;
    }
    while (count >= LONG_LANE * 3) {
        crc1 = 0;
        crc2 = 0;
        const unsigned char *end = next + LONG_LANE;
        do {
            crc0 = CRC64(crc0, load64(next));
            crc1 = CRC64(crc1, load64(next + LONG_LANE));
            crc2 = CRC64(crc2, load64(next + 2 * LONG_LANE));
            next += 8;
        } while (next < end);
        crc0 = shift(shift_long, (uint32_t)crc0) ^ crc1;
        crc0 = shift(shift_long, (uint32_t)crc0) ^ crc2;
        next += LONG_LANE * 2;
        count -= LONG_LANE * 3;
    }
    while (count >= SHORT_LANE * 3) {
        crc1 = 0;
        crc2 = 0;
        const unsigned char *end = next + SHORT_LANE;
        do {
            crc0 = CRC64(crc0, load64(next));
            crc1 = CRC64(crc1, load64(next + SHORT_LANE));
            crc2 = CRC64(crc2, load64(next + 2 * SHORT_LANE));
            next += 8;
        } while (next < end);
        crc0 = shift(shift_short, (uint32_t)crc0) ^ crc1;
        crc0 = shift(shift_short, (uint32_t)crc0) ^ crc2;
        next += SHORT_LANE * 2;
        count -= SHORT_LANE * 3;
    }
    while (count >= 8) {
        crc0 = CRC64(crc0, load64(next));
        next += 8;
        count -= 8;
    }
    while (count) {
        crc0 = CRC8(crc0, *next++);
        count--;
    }
    return (uint32_t)crc0 ^ 0xffffffffu;
}
#else
uint32_t xfer_crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    return xfer_crc32c_table(crc, bytes, count);
}
#endif

int xfer_crc32c_hardware_available(void) {
    pthread_once(&once, initialize);
    return hardware_available;
}

uint32_t xfer_crc32c(uint32_t crc, const void *bytes, size_t count) {
    pthread_once(&once, initialize);
    return hardware_available ? xfer_crc32c_hardware(crc, bytes, count) : xfer_crc32c_table(crc, bytes, count);
}
