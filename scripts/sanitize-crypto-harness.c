// Drives Sources/CXferCrypto/aead.c under ASan/UBSan (scripts/sanitize-crypto.sh).
//
//   harness VECTORS.txt
//
// VECTORS.txt is Tests/Vectors/aead.json as text (sanitize-crypto.sh makes it): one known
// answer per line, tab-separated: name, suite, key, nonce, aad, plaintext, ciphertext, tag,
// lower-case hex, "-" for no bytes. Every buffer handed to the shim is its own heap block of
// exactly the size the API promises to touch, so a read or write past it is an ASan error.
#include "CXferCrypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

static void check(int ok, const char *what, const char *name) {
    checks++;
    if (!ok) {
        fprintf(stderr, "FAILED: %s (%s)\n", what, name);
        failures++;
    }
}

// A heap copy of exactly `len` bytes (NULL for 0: the shim must take NULL with a zero length).
static uint8_t *dup_exact(const uint8_t *bytes, size_t len) {
    if (len == 0) return NULL;
    uint8_t *out = malloc(len);
    if (!out) abort();
    memcpy(out, bytes, len);
    return out;
}

static int is_zero(const uint8_t *bytes, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (bytes[i]) return 0;
    return 1;
}

// Decodes hex ("-" = empty) into a new exact-size heap block; sets *len.
static uint8_t *unhex(const char *hex, size_t *len) {
    if (strcmp(hex, "-") == 0) {
        *len = 0;
        return NULL;
    }
    size_t n = strlen(hex);
    if (n % 2) {
        fprintf(stderr, "odd hex length\n");
        exit(2);
    }
    *len = n / 2;
    uint8_t *out = malloc(*len ? *len : 1);
    for (size_t i = 0; i < *len; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            fprintf(stderr, "bad hex\n");
            exit(2);
        }
        out[i] = (uint8_t)byte;
    }
    return out;
}

// Opens `cipher` (copied) under the given inputs; returns the result and checks that a
// failure zeroed the buffer and a success gave `expected`.
static int open_copy(xfer_aead *aead, const uint8_t *nonce, const uint8_t *aad, size_t aad_len, const uint8_t *cipher,
                     size_t len, const uint8_t *tag, const uint8_t *expected, const char *name) {
    uint8_t *text = dup_exact(cipher, len);
    uint8_t *tag_copy = dup_exact(tag, 16);
    int ok = xfer_aead_open(aead, nonce, aad, aad_len, text, len, tag_copy);
    if (ok)
        check(len == 0 || memcmp(text, expected, len) == 0, "opened to the wrong plaintext", name);
    else
        check(len == 0 || is_zero(text, len), "the plaintext of a forgery was not wiped", name);
    free(text);
    free(tag_copy);
    return ok;
}

static void known_answer(char *line) {
    char *fields[8];
    int n = 0;
    for (char *field = strtok(line, "\t\n"); field && n < 8; field = strtok(NULL, "\t\n")) fields[n++] = field;
    if (n != 8) {
        fprintf(stderr, "a vector line without 8 fields\n");
        exit(2);
    }
    const char *name = fields[0];
    int suite = atoi(fields[1]);
    size_t key_len, nonce_len, aad_len, len, cipher_len, tag_len;
    uint8_t *key = unhex(fields[2], &key_len), *nonce = unhex(fields[3], &nonce_len);
    uint8_t *aad = unhex(fields[4], &aad_len), *plain = unhex(fields[5], &len);
    uint8_t *cipher = unhex(fields[6], &cipher_len), *want_tag = unhex(fields[7], &tag_len);
    if (key_len != 32 || nonce_len != 12 || tag_len != 16 || cipher_len != len) {
        fprintf(stderr, "%s: bad sizes\n", name);
        exit(2);
    }
    xfer_aead *aead = xfer_aead_new(suite, key);
    check(aead != NULL, "no context", name);
    if (!aead) return;

    // Seal in place: the known ciphertext and tag.
    uint8_t *text = dup_exact(plain, len), *tag = malloc(16);
    check(xfer_aead_seal(aead, nonce, aad, aad_len, text, len, tag) == 1, "seal failed", name);
    check(len == 0 || memcmp(text, cipher, len) == 0, "ciphertext differs from the published one", name);
    check(memcmp(tag, want_tag, 16) == 0, "tag differs from the published one", name);
    free(text);
    // Open the published bytes; and again on the same context (a context is reused per record).
    for (int round = 0; round < 2; round++)
        check(open_copy(aead, nonce, aad, aad_len, cipher, len, want_tag, plain, name) == 1, "did not open", name);

    // Every bit of the tag, the ciphertext, the nonce and the AAD: a forgery does not open.
    for (int bit = 0; bit < 128; bit++) {
        uint8_t forged[16];
        memcpy(forged, want_tag, 16);
        forged[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check(open_copy(aead, nonce, aad, aad_len, cipher, len, forged, plain, name) == 0, "a forged tag opened", name);
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        uint8_t *forged = dup_exact(cipher, len);
        forged[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check(open_copy(aead, nonce, aad, aad_len, forged, len, want_tag, plain, name) == 0,
              "a flipped ciphertext bit opened", name);
        free(forged);
    }
    for (int bit = 0; bit < 96; bit++) {
        uint8_t *forged = dup_exact(nonce, 12);
        forged[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check(open_copy(aead, forged, aad, aad_len, cipher, len, want_tag, plain, name) == 0,
              "a flipped nonce bit opened", name);
        free(forged);
    }
    for (size_t bit = 0; bit < aad_len * 8; bit++) {
        uint8_t *forged = dup_exact(aad, aad_len);
        forged[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check(open_copy(aead, nonce, forged, aad_len, cipher, len, want_tag, plain, name) == 0,
              "a flipped AAD bit opened", name);
        free(forged);
    }
    // The same key under the other suite does not open it.
    xfer_aead *other = xfer_aead_new(3 - suite, key);
    check(other && open_copy(other, nonce, aad, aad_len, cipher, len, want_tag, plain, name) == 0,
          "opened under the other suite", name);
    xfer_aead_free(other);
    xfer_aead_free(aead);
    free(key), free(nonce), free(aad), free(plain), free(cipher), free(want_tag), free(tag);
}

static void lengths(int suite) {
    // Round trips in place for many lengths, exact-size buffers; a second context opens what
    // the first sealed (as the peer's does), and one context serves every record.
    char name[64];
    uint8_t *key = malloc(32), *nonce = malloc(12);
    for (int i = 0; i < 32; i++) key[i] = (uint8_t)(7 * i + suite);
    memset(nonce, 9, 12);
    xfer_aead *sealer = xfer_aead_new(suite, key), *opener = xfer_aead_new(suite, key);
    check(sealer && opener, "no context", "lengths");
    size_t all[200], count = 0;
    for (size_t len = 0; len < 64; len++) all[count++] = len;
    for (size_t len = 64; len <= 4096; len += 61) all[count++] = len;
    const size_t extra[] = {4096, 65535, 65536, 65537, 1048558 + 2, 1048576 + 17};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) all[count++] = extra[i];
    for (size_t at = 0; at < count; at++) {
        size_t len = all[at];
        snprintf(name, sizeof name, "suite %d, length %zu", suite, len);
        size_t aad_len = len % 13;
        uint8_t *original = malloc(len ? len : 1), *aad = malloc(aad_len ? aad_len : 1);
        for (size_t i = 0; i < len; i++) original[i] = (uint8_t)(i * 31 + suite);
        for (size_t i = 0; i < aad_len; i++) aad[i] = (uint8_t)(i + 1);
        uint8_t *buffer = dup_exact(original, len), *tag = malloc(16);
        nonce[0] = (uint8_t)len, nonce[11] = (uint8_t)(len >> 8);
        check(xfer_aead_seal(sealer, nonce, aad_len ? aad : NULL, aad_len, buffer, len, tag) == 1, "seal", name);
        check(len < 16 || memcmp(buffer, original, len) != 0, "sealing left the text as it was", name);
        check(open_copy(opener, nonce, aad_len ? aad : NULL, aad_len, buffer, len, tag, original, name) == 1,
              "round trip", name);
        tag[15] ^= 0x80;
        check(open_copy(opener, nonce, aad_len ? aad : NULL, aad_len, buffer, len, tag, original, name) == 0,
              "a forged tag opened", name);
        free(buffer), free(original), free(aad), free(tag);
    }
    xfer_aead_free(sealer), xfer_aead_free(opener);
    free(key), free(nonce);
}

static void zero_length(int suite) {
    // No text and no AAD, passed as NULL pointers (what an empty Swift buffer may give).
    uint8_t key[32] = {1}, nonce[12] = {2}, tag[16], again[16];
    xfer_aead *aead = xfer_aead_new(suite, key);
    check(aead != NULL, "no context", "zero length");
    check(xfer_aead_seal(aead, nonce, NULL, 0, NULL, 0, tag) == 1, "seal of nothing", "zero length");
    check(xfer_aead_open(aead, nonce, NULL, 0, NULL, 0, tag) == 1, "open of nothing", "zero length");
    check(xfer_aead_seal(aead, nonce, NULL, 0, NULL, 0, again) == 1 && memcmp(tag, again, 16) == 0,
          "the tag of nothing is not deterministic", "zero length");
    tag[0] ^= 1;
    check(xfer_aead_open(aead, nonce, NULL, 0, NULL, 0, tag) == 0, "a forged tag of nothing opened", "zero length");
    // AAD but no text, the shape of an empty SEALED record's tag check.
    uint8_t *aad = malloc(6);
    memcpy(aad, "\x0e\x00\x00\x00\x00\x12", 6);
    check(xfer_aead_seal(aead, nonce, aad, 6, NULL, 0, tag) == 1, "seal of AAD only", "zero length");
    check(xfer_aead_open(aead, nonce, aad, 6, NULL, 0, tag) == 1, "open of AAD only", "zero length");
    aad[5] ^= 1;
    check(xfer_aead_open(aead, nonce, aad, 6, NULL, 0, tag) == 0, "changed AAD opened", "zero length");
    free(aad);
    xfer_aead_free(aead);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.txt\n", argv[0]);
        return 2;
    }
    if (!xfer_crypto_load()) {
        fprintf(stderr, "libcrypto: %s\n", xfer_crypto_load_error());
        return 1;
    }
    check(xfer_crypto_load() == 1 && xfer_crypto_load_error() == NULL, "a second load", "load");
    FILE *file = fopen(argv[1], "r");
    if (!file) {
        perror(argv[1]);
        return 2;
    }
    char *line = NULL;
    size_t capacity = 0;
    int vectors = 0;
    while (getline(&line, &capacity, file) > 0) {
        if (line[0] == '\n' || line[0] == '#') continue;
        known_answer(line);
        vectors++;
    }
    free(line);
    fclose(file);
    check(vectors >= 5, "fewer than 5 known answers read", argv[1]);
    for (int suite = 1; suite <= 2; suite++) {
        zero_length(suite);
        lengths(suite);
    }
    uint8_t key[32] = {0};
    xfer_aead_free(NULL);
    check(xfer_aead_new(0, key) == NULL && xfer_aead_new(3, key) == NULL && xfer_aead_new(-1, key) == NULL,
          "an unknown suite was accepted", "suites");
    (void)xfer_cpu_has_aes();
    printf("sanitize-crypto: %d known answers, %d checks under ASan/UBSan, %d failures\n", vectors, checks, failures);
    return failures != 0;
}
