// AES-256-GCM and ChaCha20-Poly1305 through the system's libcrypto, loaded at run time.
//
// Why not link libcrypto: the package must build with the toolchain alone (no system
// headers or -dev packages, no unsafeFlags), and only `--key` needs a cipher; a program
// without the library still sends and receives without a key. Why libcrypto and not our
// own cipher: it is audited, constant-time, and uses the CPU's AES/CLMUL and AVX2 paths
// (3.7 GB/s AES-256-GCM on the reference machine) that a portable C version would not reach.
#include "CXferCrypto.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

// The few EVP calls we need, by their OpenSSL 3 signatures (opaque pointers throughout).
typedef void EVP_CIPHER_CTX;
typedef void EVP_CIPHER;
typedef void ENGINE;

static struct {
    EVP_CIPHER_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_CIPHER_CTX *);
    const EVP_CIPHER *(*aes_256_gcm)(void);
    const EVP_CIPHER *(*chacha20_poly1305)(void);
    int (*cipher_init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *, int);
    int (*ctx_ctrl)(EVP_CIPHER_CTX *, int, int, void *);
    int (*cipher_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
    int (*cipher_final)(EVP_CIPHER_CTX *, unsigned char *, int *);
} evp;

enum { EVP_CTRL_AEAD_SET_IVLEN = 0x9, EVP_CTRL_AEAD_GET_TAG = 0x10, EVP_CTRL_AEAD_SET_TAG = 0x11 };

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static const char *load_error;

static void *symbol(void *library, const char *name) {
    void *found = dlsym(library, name);
    if (!found && !load_error) load_error = "libcrypto.so.3 lacks an EVP function xfer needs (not OpenSSL 3?)";
    return found;
}

static void load(void) {
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        load_error = "cannot load libcrypto.so.3 (OpenSSL 3; Debian/Ubuntu package libssl3, Fedora openssl-libs)";
        return;
    }
    evp.ctx_new = (EVP_CIPHER_CTX * (*)(void)) symbol(library, "EVP_CIPHER_CTX_new");
    evp.ctx_free = (void (*)(EVP_CIPHER_CTX *))symbol(library, "EVP_CIPHER_CTX_free");
    evp.aes_256_gcm = (const EVP_CIPHER *(*)(void))symbol(library, "EVP_aes_256_gcm");
    evp.chacha20_poly1305 = (const EVP_CIPHER *(*)(void))symbol(library, "EVP_chacha20_poly1305");
    evp.cipher_init = (int (*)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *,
                               const unsigned char *, int))symbol(library, "EVP_CipherInit_ex");
    evp.ctx_ctrl = (int (*)(EVP_CIPHER_CTX *, int, int, void *))symbol(library, "EVP_CIPHER_CTX_ctrl");
    evp.cipher_update =
        (int (*)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int))symbol(library, "EVP_CipherUpdate");
    evp.cipher_final = (int (*)(EVP_CIPHER_CTX *, unsigned char *, int *))symbol(library, "EVP_CipherFinal_ex");
    loaded = load_error == NULL;
}

int xfer_crypto_load(void) {
    pthread_once(&load_once, load);
    return loaded;
}

const char *xfer_crypto_load_error(void) {
    xfer_crypto_load();
    return load_error;
}

int xfer_cpu_has_aes(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_AES) && (c & bit_PCLMUL);
#elif defined(__aarch64__) && defined(__linux__)
    unsigned long caps = getauxval(AT_HWCAP);
    return (caps & (1UL << 3)) && (caps & (1UL << 4));  // HWCAP_AES, HWCAP_PMULL
#else
    return 0;
#endif
}

// One context per key: the key schedule is set once; each record sets only its nonce and
// whether it seals or opens (a connection's direction only ever does one of the two).
struct xfer_aead {
    EVP_CIPHER_CTX *ctx;
};

static EVP_CIPHER_CTX *context(const EVP_CIPHER *cipher, const uint8_t *key, int encrypt) {
    EVP_CIPHER_CTX *ctx = evp.ctx_new();
    if (!ctx) return NULL;
    if (evp.cipher_init(ctx, cipher, NULL, NULL, NULL, encrypt) != 1 ||
        evp.ctx_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
        evp.cipher_init(ctx, NULL, NULL, key, NULL, encrypt) != 1) {
        evp.ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

xfer_aead *xfer_aead_new(int suite, const uint8_t *key32) {
    if (!xfer_crypto_load()) return NULL;
    const EVP_CIPHER *cipher;
    switch (suite) {
    case XFER_AEAD_AES_256_GCM: cipher = evp.aes_256_gcm(); break;
    case XFER_AEAD_CHACHA20_POLY1305: cipher = evp.chacha20_poly1305(); break;
    default: return NULL;
    }
    if (!cipher) return NULL;
    xfer_aead *aead = calloc(1, sizeof *aead);
    if (!aead) return NULL;
    aead->ctx = context(cipher, key32, 1);
    if (!aead->ctx) {
        xfer_aead_free(aead);
        return NULL;
    }
    return aead;
}

void xfer_aead_free(xfer_aead *aead) {
    if (!aead) return;
    if (aead->ctx) evp.ctx_free(aead->ctx);
    free(aead);
}

// EVP takes int lengths: feed long inputs in pieces (a record is at most 1 MiB, but the
// cross-checks seal 64 MiB at once).
static int update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len) {
    while (len > 0) {
        int piece = len > (1u << 30) ? (1 << 30) : (int)len, written = 0;
        if (evp.cipher_update(ctx, out, &written, in, piece) != 1 || written != piece) return 0;
        if (out) out += piece;  // NULL: the bytes are additional data
        in += piece;
        len -= (size_t)piece;
    }
    return 1;
}

static int start(EVP_CIPHER_CTX *ctx, const uint8_t *nonce12, const uint8_t *aad, size_t aad_len, int encrypt) {
    if (evp.cipher_init(ctx, NULL, NULL, NULL, nonce12, encrypt) != 1) return 0;
    return aad_len == 0 || update(ctx, NULL, aad, aad_len);
}

int xfer_aead_seal(xfer_aead *aead, const uint8_t *nonce12, const uint8_t *aad, size_t aad_len, uint8_t *inout,
                   size_t len, uint8_t *tag16) {
    int written = 0;
    uint8_t end[16];
    if (!start(aead->ctx, nonce12, aad, aad_len, 1)) return 0;
    if (len > 0 && !update(aead->ctx, inout, inout, len)) return 0;
    if (evp.cipher_final(aead->ctx, end, &written) != 1 || written != 0) return 0;
    return evp.ctx_ctrl(aead->ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag16) == 1;
}

int xfer_aead_open(xfer_aead *aead, const uint8_t *nonce12, const uint8_t *aad, size_t aad_len, uint8_t *inout,
                   size_t len, const uint8_t *tag16) {
    int written = 0;
    uint8_t end[16], tag[16];
    memcpy(tag, tag16, 16);
    int ok = start(aead->ctx, nonce12, aad, aad_len, 0) && (len == 0 || update(aead->ctx, inout, inout, len)) &&
             evp.ctx_ctrl(aead->ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
             evp.cipher_final(aead->ctx, end, &written) == 1 && written == 0;
    if (!ok && len > 0) memset(inout, 0, len);
    return ok;
}
