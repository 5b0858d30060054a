#!/usr/bin/env python3
"""Random cross-check data for xfer's AEAD suites, computed by Python's `cryptography`
package (an independent implementation, as far as bindings go: it carries its own OpenSSL
build, and this script is written from SPEC.md's suite table, not from xfer's code).

Prints one line per case: `SUITE LENGTH SEED SHA256(ciphertext || tag)`, for suites 1
(AES-256-GCM) and 2 (ChaCha20-Poly1305), every plaintext length 0..1100, and 1, 16 and 64 MiB.
Tests/FramingTests/AEADTests.swift regenerates the same inputs, seals them with xfer's AEAD
and compares the hashes. The inputs of a case, from its SEED:

    key       = random_bytes(SEED,     32)
    nonce     = random_bytes(SEED + 1, 12)
    aad       = random_bytes(SEED + 2, LENGTH % 37)
    plaintext = random_bytes(SEED + 3, LENGTH)

where random_bytes(s, n) is the first n bytes of the little-endian outputs of SplitMix64
started at state s (the state is advanced by 0x9E3779B97F4A7C15 before each output), and
SEED = 0x7866657241454144 ^ (SUITE << 32) ^ LENGTH.

    python3 scripts/aead-crosscheck.py      # needs: pip install cryptography
"""
import hashlib
import sys

MASK = (1 << 64) - 1
BASE = 0x7866_6572_4145_4144  # "xferAEAD"
LENGTHS = list(range(0, 1101)) + [1 << 20, 16 << 20, 64 << 20]


def random_bytes(seed, count):
    """SplitMix64, vectorised with numpy when it is there (64 MiB in pure Python takes minutes)."""
    words = (count + 7) // 8
    try:
        import numpy as np
        with np.errstate(over="ignore"):
            state = (np.arange(1, words + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                     + np.uint64(seed & MASK))
            z = state
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
        return z.astype("<u8").tobytes()[:count]
    except ImportError:
        out = bytearray()
        state = seed & MASK
        for _ in range(words):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            out += (z ^ (z >> 31)).to_bytes(8, "little")
        return bytes(out[:count])


def main():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    suites = {1: AESGCM, 2: ChaCha20Poly1305}
    for suite, cipher in suites.items():
        for length in LENGTHS:
            seed = BASE ^ (suite << 32) ^ length
            key = random_bytes(seed, 32)
            nonce = random_bytes((seed + 1) & MASK, 12)
            aad = random_bytes((seed + 2) & MASK, length % 37)
            plaintext = random_bytes((seed + 3) & MASK, length)
            sealed = cipher(key).encrypt(nonce, plaintext, aad)
            print(suite, length, seed, hashlib.sha256(sealed).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
