// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "xfer",
    products: [
        .library(name: "Framing", targets: ["Framing"]),
        .library(name: "Transfer", targets: ["Transfer"]),
        .executable(name: "xfer", targets: ["xfer"]),
    ],
    targets: [
        // CRC-32C (hardware and table) and XXH64 in C: the portable way to reach the
        // SSE 4.2 / ARMv8 CRC instructions without `unsafeFlags`.
        .target(name: "CXferChecksums"),
        // AES-256-GCM and ChaCha20-Poly1305 for `--key`: the system's libcrypto (OpenSSL 3),
        // loaded at run time, so building needs no system headers and only `--key` needs it.
        .target(name: "CXferCrypto", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Framing", dependencies: ["CXferChecksums", "CXferCrypto"]),
        // Linux GNU extensions (sync_file_range, syncfs) that Glibc's Swift module hides.
        .target(name: "CXferSystem"),
        .target(name: "Transfer", dependencies: ["Framing", "CXferSystem"]),
        .executableTarget(name: "xfer", dependencies: ["Transfer"]),
        .executableTarget(name: "FramingBenchmark", dependencies: ["Framing"]),
        .testTarget(name: "FramingTests", dependencies: ["Framing"]),
        .testTarget(name: "XferTests", dependencies: ["Transfer", "xfer"]),
    ]
)
