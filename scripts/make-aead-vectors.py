#!/usr/bin/env python3
"""Writes Tests/Vectors/aead.json: published known answers for xfer's two AEAD suites (SPEC 1.2,
SPEC.md §13), typed in here from the standards and checked against Python's `cryptography`
before anything is written (so the file agrees with the published text AND with one real
implementation, not only with one library):

  - ChaCha20-Poly1305 (suite 2): RFC 8439 §2.8.2, "Example and Test Vector for
    AEAD_CHACHA20_POLY1305".
  - AES-256-GCM (suite 1): test cases 13, 14, 15 and 16 of D. McGrew and J. Viega, "The
    Galois/Counter Mode of Operation (GCM)", the AES-256 cases of the spec submitted to NIST
    (the one SP 800-38D is built on): 13 empty, 14 one zero block, 15 four blocks without AAD,
    16 a partial last block with 20 bytes of AAD.

    scripts/make-aead-vectors.py          # rewrites the file (needs: pip install cryptography)
    scripts/make-aead-vectors.py --check  # exits 1 if the file is out of date

Fields of each vector: name, source, suite (1 or 2, the wire id), key, nonce, aad, plaintext,
ciphertext, tag, all lower-case hex (empty string for no bytes); sealed output = ciphertext || tag.
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Vectors", "aead.json")

SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
             b"future, sunscreen would be it.")

# The published values, as printed in the RFC and the GCM spec (hex, spaces and line breaks of
# the originals removed).
GCM_KEY = "feffe9928665731c6d6a8f9467308308" "feffe9928665731c6d6a8f9467308308"
GCM_PLAIN = ("d9313225f88406e5a55909c5aff5269a" "86a7a9531534f7da2e4c303d8a318a72"
             "1c3c0c95956809532fcf0e2449a6b525" "b16aedf5aa0de657ba637b391aafd255")
GCM_CIPHER = ("522dc1f099567d07f47f37a32a84427d" "643a8cdcbfe5c0c97598a2bd2555d1aa"
              "8cb08e48590dbb3da7b08b1056828838" "c5f61e6393ba7a0abcc9f662898015ad")
PUBLISHED = [
    {
        "name": "RFC 8439 2.8.2",
        "source": "RFC 8439, section 2.8.2: Example and Test Vector for AEAD_CHACHA20_POLY1305",
        "suite": 2,
        "key": "808182838485868788898a8b8c8d8e8f" "909192939495969798999a9b9c9d9e9f",
        "nonce": "07000000" "4041424344454647",  # constant 07 00 00 00, then the IV 40..47
        "aad": "50515253c0c1c2c3c4c5c6c7",
        "plaintext": SUNSCREEN.hex(),
        "ciphertext": ("d31a8d34648e60db7b86afbc53ef7ec2" "a4aded51296e08fea9e2b5a736ee62d6"
                       "3dbea45e8ca9671282fafb69da92728b" "1a71de0a9e060b2905d6a5b67ecd3b36"
                       "92ddbd7f2d778b8c9803aee328091b58" "fab324e4fad675945585808b4831d7bc"
                       "3ff4def08e4b7a9de576d26586cec64b" "6116"),
        "tag": "1ae10b594f09e26a7e902ecbd0600691",
    },
    {
        "name": "GCM test case 13",
        "source": "McGrew & Viega, The Galois/Counter Mode of Operation (GCM), appendix B, test case 13",
        "suite": 1,
        "key": "00" * 32,
        "nonce": "00" * 12,
        "aad": "",
        "plaintext": "",
        "ciphertext": "",
        "tag": "530f8afbc74536b9a963b4f1c4cb738b",
    },
    {
        "name": "GCM test case 14",
        "source": "McGrew & Viega, The Galois/Counter Mode of Operation (GCM), appendix B, test case 14",
        "suite": 1,
        "key": "00" * 32,
        "nonce": "00" * 12,
        "aad": "",
        "plaintext": "00" * 16,
        "ciphertext": "cea7403d4d606b6e074ec5d3baf39d18",
        "tag": "d0d1c8a799996bf0265b98b5d48ab919",
    },
    {
        "name": "GCM test case 15",
        "source": "McGrew & Viega, The Galois/Counter Mode of Operation (GCM), appendix B, test case 15",
        "suite": 1,
        "key": GCM_KEY,
        "nonce": "cafebabefacedbaddecaf888",
        "aad": "",
        "plaintext": GCM_PLAIN,
        "ciphertext": GCM_CIPHER,
        "tag": "b094dac5d93471bdec1a502270e3cc6c",
    },
    {
        "name": "GCM test case 16",
        "source": "McGrew & Viega, The Galois/Counter Mode of Operation (GCM), appendix B, test case 16",
        "suite": 1,
        "key": GCM_KEY,
        "nonce": "cafebabefacedbaddecaf888",
        "aad": "feedfacedeadbeeffeedfacedeadbeef" "abaddad2",
        "plaintext": GCM_PLAIN[:-8],  # 60 bytes: the last 4 of test case 15 left out
        "ciphertext": GCM_CIPHER[:-8],
        "tag": "76fc6ece0f4e1768cddf8853bb2d551b",
    },
]


def checked(vector):
    """Seals and opens the vector with `cryptography`; raises unless both equal the published text."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    b = {name: bytes.fromhex(vector[name]) for name in ("key", "nonce", "aad", "plaintext", "ciphertext", "tag")}
    assert len(b["key"]) == 32 and len(b["nonce"]) == 12 and len(b["tag"]) == 16, vector["name"]
    assert len(b["plaintext"]) == len(b["ciphertext"]), vector["name"]
    aead = (AESGCM if vector["suite"] == 1 else ChaCha20Poly1305)(b["key"])
    sealed = aead.encrypt(b["nonce"], b["plaintext"], b["aad"])
    if sealed != b["ciphertext"] + b["tag"]:
        raise AssertionError("%s: cryptography gives %s, the published value is %s"
                             % (vector["name"], sealed.hex(), (b["ciphertext"] + b["tag"]).hex()))
    assert aead.decrypt(b["nonce"], sealed, b["aad"]) == b["plaintext"], vector["name"]
    forged = bytearray(sealed)
    forged[-1] ^= 1
    try:
        aead.decrypt(b["nonce"], bytes(forged), b["aad"])
        raise AssertionError("%s: a forged tag opened" % vector["name"])
    except InvalidTag:
        pass
    return vector


def main():
    # The RFC's plaintext, as printed in its hex dump, begins "4c 61 64 69 65 73".
    assert SUNSCREEN.hex().startswith("4c616469657320616e642047656e746c") and len(SUNSCREEN) == 114
    vectors = {
        "description": "Published known answers for the AEAD suites of SPEC 1.2 (SPEC.md §13): suite 1 "
                       "AES-256-GCM (McGrew & Viega's GCM spec, test cases 13-16) and suite 2 "
                       "ChaCha20-Poly1305 (RFC 8439 §2.8.2). Each vector: name, source, suite, key (32 "
                       "bytes), nonce (12), aad, plaintext, ciphertext (as long as the plaintext), tag "
                       "(16); lower-case hex, empty string for no bytes. Sealing plaintext under key, nonce "
                       "and aad gives ciphertext || tag. Typed in from the documents and checked against "
                       "Python's cryptography by scripts/make-aead-vectors.py.",
        "vectors": [checked(v) for v in PUBLISHED],
    }
    text = json.dumps(vectors, indent=2) + "\n"
    if "--check" in sys.argv:
        same = os.path.exists(OUT) and open(OUT).read() == text
        print("aead.json is " + ("up to date" if same else "OUT OF DATE"))
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %s (%d vectors)" % (os.path.normpath(OUT), len(vectors["vectors"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
