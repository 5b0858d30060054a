#!/usr/bin/env python3
"""Deterministic random cross-check data for xfer's AEAD suites (SPEC 1.2), computed by
Python's `cryptography` package (its own OpenSSL build: as far as bindings go, another
implementation than the system libcrypto that xfer loads; this script is written from the
suite table of SPEC.md, not from xfer's code).

    python3 scripts/aead-crosscheck.py           # one line per case: SUITE LENGTH SEED SHA256
    python3 scripts/aead-crosscheck.py --json    # one JSON object per line (below)
    python3 scripts/aead-crosscheck.py --no-numpy   # the same output without numpy (slower)

Needs `pip install cryptography`; numpy makes the inputs fast (without it a pure-Python,
big-integer-vectorised SplitMix64 is used, giving the same bytes).

THE RECIPE (Tests/FramingTests/AEADTests.swift regenerates it, seals with xfer's AEAD and
compares the SHA-256 values; any other implementation can do the same):

  Cases: for SUITE in (1 = AES-256-GCM, 2 = ChaCha20-Poly1305), in that order, and for every
  LENGTH in 0, 1, 2, ..., 1100 (inclusive), then 1048576 (1 MiB), 16777216 (16 MiB) and
  67108864 (64 MiB), in that order: 2 x 1104 = 2208 cases.

    SEED      = 0x7866657241454144 ^ (SUITE << 32) ^ LENGTH     ("xferAEAD"; ^ is XOR)
    key       = random_bytes(SEED,     32)
    nonce     = random_bytes(SEED + 1, 12)
    aad       = random_bytes(SEED + 2, LENGTH % 37)
    plaintext = random_bytes(SEED + 3, LENGTH)      (the 1/16/64 MiB plaintexts in full too:
                                                     one SplitMix64 stream each, no repetition)
    sealed    = AEAD_SUITE(key).seal(nonce, plaintext, aad) = ciphertext || 16-byte tag
    SHA256    = SHA-256(sealed), lower-case hex

  with SEED + k taken modulo 2^64, and random_bytes(s, n) = the first n bytes of the
  little-endian encodings of the 64-bit outputs of SplitMix64 started at state s, exactly as
  in scripts/make-crypto-vectors.py: the state is advanced BEFORE the first output, so the
  first output is mix(s + 0x9E3779B97F4A7C15), the k-th (k = 1, 2, ...) mix(s + k * 0x9E37...):

    state = s
    repeat:  state = (state + 0x9E3779B97F4A7C15) mod 2^64
             z = state
             z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2^64
             z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2^64
             output z ^ (z >> 31), as 8 bytes little-endian (the last one cut to what is needed)

Text output, one line per case: `SUITE LENGTH SEED SHA256`, SUITE and LENGTH and SEED in
decimal (this is what AEADTests.swift reads). JSON output, one object per line:
  {"suite": 1, "length": 0, "seed": "<decimal u64, a string>", "key": hex, "nonce": hex,
   "aad": hex, "sha256": hex}
(the seed is a string because it is above 2^53, as SPEC.md §12 does for every u64).

Timings for all 2208 cases (~164 MiB of SplitMix64 output) on a 2-core x86-64, Python 3.11,
cryptography 48: about 1 s with numpy, about 4 s without (--no-numpy); the one-word-at-a-time
reference definition, random_bytes_scalar, would take about 0.1 s per MiB, 17 s in all.

Note: adjacent cases share input streams (SEED + 1 of one LENGTH can be the SEED of the next,
so a nonce may be a prefix of the next case's key). That is harmless for a cross-check.
"""
import hashlib
import json
import sys
from array import array

MASK = (1 << 64) - 1
BASE = 0x7866_6572_4145_4144  # "xferAEAD"
GAMMA, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
LENGTHS = list(range(0, 1101)) + [1 << 20, 16 << 20, 64 << 20]
SUITES = (1, 2)


def random_bytes_scalar(seed, count):
    """The reference definition, one word at a time (the state is advanced before each output)."""
    out = bytearray()
    state = seed & MASK
    while len(out) < count:
        state = (state + GAMMA) & MASK
        z = state
        z = ((z ^ (z >> 30)) * MIX1) & MASK
        z = ((z ^ (z >> 27)) * MIX2) & MASK
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return bytes(out[:count])


def random_bytes_numpy(seed, count):
    """The same bytes, vectorised with numpy: output k (from 1) is mix(seed + k * GAMMA)."""
    import numpy as np
    words = (count + 7) // 8
    out = bytearray()
    chunk = 1 << 20  # words per step: 8 MiB of output, bounded memory
    with np.errstate(over="ignore"):
        for start in range(0, words, chunk):
            n = min(chunk, words - start)
            z = (np.arange(start + 1, start + n + 1, dtype=np.uint64) * np.uint64(GAMMA)
                 + np.uint64(seed & MASK))
            z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
            z ^= z >> np.uint64(31)
            out += z.astype("<u8").tobytes()
    return bytes(out[:count])


def random_bytes_bigint(seed, count):
    """The same bytes without numpy: many SplitMix64 lanes at once in one Python integer, each
    64-bit lane in the low half of a 128-bit slot so that a product never reaches the next
    lane (every step masks the slots back to 64 bits before the next multiplication)."""
    words = (count + 7) // 8
    out = bytearray()
    chunk = 1 << 16
    for start in range(0, words, chunk):
        n = min(chunk, words - start)
        slots = array("Q", bytes(16 * n))
        slots[0::2] = array("Q", range(start + 1, start + n + 1))
        if sys.byteorder != "little":
            slots.byteswap()
        mask = int.from_bytes((b"\xff" * 8 + bytes(8)) * n, "little")
        ones = int.from_bytes((b"\x01" + bytes(15)) * n, "little")
        z = int.from_bytes(slots.tobytes(), "little")
        z = (z * GAMMA + ones * (seed & MASK)) & mask
        z = (((z ^ (z >> 30)) & mask) * MIX1) & mask
        z = (((z ^ (z >> 27)) & mask) * MIX2) & mask
        z = (z ^ (z >> 31)) & mask
        # Bytes 0-7 of every 16-byte slot (a strided copy: no byte is interpreted).
        out += memoryview(z.to_bytes(16 * n, "little")).cast("Q")[0::2].tobytes()
    return bytes(out[:count])


def pick_generator(no_numpy):
    if not no_numpy:
        try:
            import numpy  # noqa: F401
            return random_bytes_numpy
        except ImportError:
            pass
    return random_bytes_bigint


def random_bytes(seed, count, generator=None):
    """random_bytes(s, n) of the recipe; `generator` (a faster one) for the long inputs."""
    if count <= 4096 or generator is None:
        return random_bytes_scalar(seed, count)
    return generator(seed, count)


def cases(generator):
    """Yields (suite, length, seed, key, nonce, aad, sealed) for every case, in order."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    ciphers = {1: AESGCM, 2: ChaCha20Poly1305}
    for suite in SUITES:
        for length in LENGTHS:
            seed = BASE ^ (suite << 32) ^ length
            key = random_bytes(seed, 32, generator)
            nonce = random_bytes((seed + 1) & MASK, 12, generator)
            aad = random_bytes((seed + 2) & MASK, length % 37, generator)
            plaintext = random_bytes((seed + 3) & MASK, length, generator)
            yield suite, length, seed, key, nonce, aad, ciphers[suite](key).encrypt(nonce, plaintext, aad)


def main(argv):
    as_json = "--json" in argv
    generator = pick_generator("--no-numpy" in argv)
    out = sys.stdout
    for suite, length, seed, key, nonce, aad, sealed in cases(generator):
        digest = hashlib.sha256(sealed).hexdigest()
        if as_json:
            out.write(json.dumps({"suite": suite, "length": length, "seed": str(seed), "key": key.hex(),
                                  "nonce": nonce.hex(), "aad": aad.hex(), "sha256": digest}) + "\n")
        else:
            out.write("%d %d %d %s\n" % (suite, length, seed, digest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
