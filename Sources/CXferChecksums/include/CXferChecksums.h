#ifndef CXFER_CHECKSUMS_H
#define CXFER_CHECKSUMS_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF).
/// `crc` is a previous result (0 to start), so calls chain over split input.
/// Uses the CPU's CRC instruction when present, else the table fallback.
uint32_t xfer_crc32c(uint32_t crc, const void *bytes, size_t count);

/// The portable slicing-by-8 table implementation; same results as `xfer_crc32c`.
uint32_t xfer_crc32c_table(uint32_t crc, const void *bytes, size_t count);

/// The hardware implementation (three interleaved lanes). Only call when
/// `xfer_crc32c_hardware_available()` returns non-zero.
uint32_t xfer_crc32c_hardware(uint32_t crc, const void *bytes, size_t count);

/// Non-zero when this CPU has a CRC-32C instruction (SSE 4.2 on x86-64, CRC32 on arm64).
int xfer_crc32c_hardware_available(void);

/// Streaming XXH64 state. Treat as opaque.
typedef struct {
    uint64_t total_length;
    uint64_t v[4];
    uint8_t buffer[32];
    uint32_t buffered;
    uint64_t seed;
} xfer_xxh64_state;

void xfer_xxh64_reset(xfer_xxh64_state *state, uint64_t seed);
void xfer_xxh64_update(xfer_xxh64_state *state, const void *bytes, size_t count);
uint64_t xfer_xxh64_digest(const xfer_xxh64_state *state);

#endif
