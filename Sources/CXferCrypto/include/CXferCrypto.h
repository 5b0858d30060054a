#ifndef CXFER_CRYPTO_H
#define CXFER_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/// The AEAD suites of SPEC.md §13 (their wire ids).
enum { XFER_AEAD_AES_256_GCM = 1, XFER_AEAD_CHACHA20_POLY1305 = 2 };

/// Loads the system's libcrypto (OpenSSL 3, `libcrypto.so.3`) once, on first use: 1 when
/// every function the AEAD needs was found, else 0 and `xfer_crypto_load_error` says why.
/// Thread-safe.
int xfer_crypto_load(void);

/// Why `xfer_crypto_load` failed (a static string), or NULL.
const char *xfer_crypto_load_error(void);

/// Whether this CPU has AES and carry-less multiply instructions (x86-64: AES-NI and
/// PCLMULQDQ; ARMv8: AES and PMULL), so AES-GCM is fast and constant-time.
int xfer_cpu_has_aes(void);

/// One direction's AEAD: a suite and its 32-byte key, set once.
typedef struct xfer_aead xfer_aead;

/// A context for `suite` with a 32-byte `key`; NULL when libcrypto is missing or refuses.
xfer_aead *xfer_aead_new(int suite, const uint8_t *key32);

/// Frees a context (NULL is fine); its key material is wiped by libcrypto.
void xfer_aead_free(xfer_aead *aead);

/// Encrypts `len` bytes of `inout` in place under the 12-byte `nonce12`, authenticating
/// `aad` too, and writes the 16-byte tag. Returns 1, or 0 on an internal failure.
int xfer_aead_seal(xfer_aead *aead, const uint8_t *nonce12, const uint8_t *aad, size_t aad_len, uint8_t *inout,
                   size_t len, uint8_t *tag16);

/// Decrypts `len` bytes of `inout` in place and checks the tag (libcrypto compares it in
/// constant time). Returns 1 when the tag verified; otherwise 0, and `inout` is zeroed so
/// no unauthenticated plaintext can be used by mistake.
int xfer_aead_open(xfer_aead *aead, const uint8_t *nonce12, const uint8_t *aad, size_t aad_len, uint8_t *inout,
                   size_t len, const uint8_t *tag16);

#endif
