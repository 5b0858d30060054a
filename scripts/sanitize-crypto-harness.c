// Drives Sources/CXferCrypto/aead.c under ASan/UBSan (scripts/sanitize-crypto.sh).
#include "CXferCrypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failures++;
    }
}

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

struct known {
    int suite;
    const char *key, *nonce, *aad, *plaintext, *ciphertext, *tag;
};

int main(void) {
    if (!xfer_crypto_load()) {
        fprintf(stderr, "libcrypto: %s\n", xfer_crypto_load_error());
        return 1;
    }
    const struct known known[] = {
        {2, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", "070000004041424344454647",
         "50515253c0c1c2c3c4c5c6c7",
         "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966204920636f756c64"
         "206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73637265656e20776f"
         "756c642062652069742e",
         "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a"
         "9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9d"
         "e576d26586cec64b6116",
         "1ae10b594f09e26a7e902ecbd0600691"},
        {1, "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "",
         "", "530f8afbc74536b9a963b4f1c4cb738b"},
        {1, "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
         "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
        {1, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "feedfacedeadbeeffeedfacedeadbeefabaddad2",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5"
         "aa0de657ba637b39",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e63"
         "93ba7a0abcc9f662",
         "76fc6ece0f4e1768cddf8853bb2d551b"},
    };
    int cases = 0;
    for (size_t v = 0; v < sizeof known / sizeof known[0]; v++) {
        uint8_t key[32], nonce[12], aad[64], text[256], expected[256], tag[16], want[16];
        unhex(known[v].key, key);
        unhex(known[v].nonce, nonce);
        size_t aad_len = unhex(known[v].aad, aad);
        size_t len = unhex(known[v].plaintext, text);
        unhex(known[v].ciphertext, expected);
        unhex(known[v].tag, want);
        xfer_aead *aead = xfer_aead_new(known[v].suite, key);
        check(aead != NULL, "context");
        check(xfer_aead_seal(aead, nonce, aad, aad_len, text, len, tag) == 1, "seal");
        check(memcmp(text, expected, len) == 0 && memcmp(tag, want, 16) == 0, "known answer");
        for (int bit = 0; bit < 128; bit++) {
            uint8_t forged[16], copy[256];
            memcpy(forged, tag, 16);
            memcpy(copy, text, len);
            forged[bit / 8] ^= (uint8_t)(1 << (bit % 8));
            check(xfer_aead_open(aead, nonce, aad, aad_len, copy, len, forged) == 0, "forged tag opened");
            for (size_t i = 0; i < len; i++) check(copy[i] == 0, "plaintext of a forgery not wiped");
            cases++;
        }
        check(xfer_aead_open(aead, nonce, aad, aad_len, text, len, tag) == 1, "open");
        xfer_aead_free(aead);
    }
    // Many lengths, both suites, round trips in place; a NULL free is fine.
    uint8_t key[32] = {7}, nonce[12] = {9};
    for (int suite = 1; suite <= 2; suite++) {
        xfer_aead *aead = xfer_aead_new(suite, key);
        for (size_t len = 0; len <= 4096; len += (len < 64 ? 1 : 61)) {
            uint8_t *buffer = malloc(len ? len : 1), *original = malloc(len ? len : 1), tag[16];
            for (size_t i = 0; i < len; i++) original[i] = buffer[i] = (uint8_t)(i * 31 + suite);
            nonce[0] = (uint8_t)len;
            check(xfer_aead_seal(aead, nonce, original, len % 13, buffer, len, tag) == 1, "seal length");
            check(xfer_aead_open(aead, nonce, original, len % 13, buffer, len, tag) == 1, "open length");
            check(len == 0 || memcmp(buffer, original, len) == 0, "round trip");
            free(buffer);
            free(original);
            cases++;
        }
        xfer_aead_free(aead);
    }
    xfer_aead_free(NULL);
    check(xfer_aead_new(3, key) == NULL, "an unknown suite was accepted");
    printf("sanitize-crypto: %d checks under ASan/UBSan, %d failures\n", cases, failures);
    return failures != 0;
}
