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

/// SHA-256 (FIPS 180-4). The digest is 32 bytes; the block 64.
#define XFER_SHA256_DIGEST_SIZE 32
#define XFER_SHA256_BLOCK_SIZE 64

/// Which compression function a SHA-256 (or HMAC) context uses; see `xfer_sha256_init_with`.
/// BEST: the SHA extensions when this CPU has them, else portable. PORTABLE: plain C,
/// whatever the CPU. HARDWARE: the x86 SHA extensions (SHA-NI); only where available.
#define XFER_SHA256_BEST 0
#define XFER_SHA256_PORTABLE 1
#define XFER_SHA256_HARDWARE 2

/// Streaming SHA-256 state. Treat as opaque; copying it forks the computation.
typedef struct {
    uint32_t state[8];
    uint64_t length;  // bytes fed so far
    uint8_t buffer[64];
    uint32_t buffered;
    uint32_t implementation;  // XFER_SHA256_PORTABLE or XFER_SHA256_HARDWARE
} xfer_sha256_context;

/// Non-zero when this CPU has the SHA extensions (SHA-NI, with SSE 4.1) that
/// XFER_SHA256_HARDWARE uses. Always 0 on other architectures.
int xfer_sha256_hardware_available(void);

/// Starts a hash with the best implementation for this CPU.
void xfer_sha256_init(xfer_sha256_context *ctx);

/// Starts a hash with the given implementation (XFER_SHA256_BEST, _PORTABLE or _HARDWARE).
/// Returns 0, or -1 when HARDWARE is asked for on a CPU without it (or the value is unknown):
/// the context is then still initialized, with the portable implementation.
int xfer_sha256_init_with(xfer_sha256_context *ctx, int implementation);

/// Feeds the next `count` bytes (`bytes` may be NULL when `count` is 0).
void xfer_sha256_update(xfer_sha256_context *ctx, const void *bytes, size_t count);

/// Writes the digest of everything fed and wipes the context; init again to reuse it
/// (copy the context first to keep feeding after a digest).
void xfer_sha256_final(xfer_sha256_context *ctx, uint8_t digest[XFER_SHA256_DIGEST_SIZE]);

/// One-shot SHA-256 with the best implementation.
void xfer_sha256(const void *bytes, size_t count, uint8_t digest[XFER_SHA256_DIGEST_SIZE]);

/// Streaming HMAC-SHA256 (RFC 2104) state: the hash states after the inner and outer
/// padded keys. Key-equivalent secret; treat as opaque.
typedef struct {
    xfer_sha256_context inner;
    xfer_sha256_context outer;
} xfer_hmac_sha256_context;

/// Starts an HMAC-SHA256 under `key` (any length; longer than 64 bytes is hashed first, as
/// RFC 2104 says) with the best implementation.
void xfer_hmac_sha256_init(xfer_hmac_sha256_context *ctx, const void *key, size_t key_count);

/// As `xfer_hmac_sha256_init`, with the SHA-256 implementation chosen as for
/// `xfer_sha256_init_with` (same return value and fallback).
int xfer_hmac_sha256_init_with(xfer_hmac_sha256_context *ctx, const void *key, size_t key_count,
                               int implementation);

/// Feeds the next `count` bytes of the message.
void xfer_hmac_sha256_update(xfer_hmac_sha256_context *ctx, const void *bytes, size_t count);

/// Writes the 32-byte authentication code and wipes the context.
void xfer_hmac_sha256_final(xfer_hmac_sha256_context *ctx, uint8_t mac[XFER_SHA256_DIGEST_SIZE]);

/// One-shot HMAC-SHA256 with the best implementation.
void xfer_hmac_sha256(const void *key, size_t key_count, const void *bytes, size_t count,
                      uint8_t mac[XFER_SHA256_DIGEST_SIZE]);

/// The most output HKDF-SHA256 can expand to: 255 blocks of 32 bytes (RFC 5869 §2.3).
#define XFER_HKDF_SHA256_MAXIMUM_OUTPUT (255 * XFER_SHA256_DIGEST_SIZE)

/// HKDF-Extract (RFC 5869 §2.2): PRK = HMAC-SHA256(salt, input key material). An empty
/// salt (count 0, pointer may be NULL) acts as 32 zero bytes, as the RFC specifies.
void xfer_hkdf_sha256_extract(const void *salt, size_t salt_count, const void *input_key_material,
                              size_t input_count, uint8_t pseudorandom_key[XFER_SHA256_DIGEST_SIZE]);

/// HKDF-Expand (RFC 5869 §2.3): writes `output_count` bytes derived from the pseudorandom
/// key and `info`. Returns 0, or -1 (writing nothing) when `output_count` exceeds
/// XFER_HKDF_SHA256_MAXIMUM_OUTPUT.
int xfer_hkdf_sha256_expand(const void *pseudorandom_key, size_t key_count, const void *info, size_t info_count,
                            void *output, size_t output_count);

/// 1 when the `count` bytes at `a` and `b` are equal, else 0, in time that depends only on
/// `count` (every byte is read; no early exit), for comparing authentication codes.
int xfer_constant_time_equal(const void *a, const void *b, size_t count);

#endif
