// swift-tools-version: 6.0
// A program that embeds xfer: it depends on the Framing and Transfer products by path,
// as another package would by URL. scripts/embed-check.sh builds and runs it.
import PackageDescription

let package = Package(
    name: "EmbedXfer",
    dependencies: [.package(name: "xfer", path: "../..")],
    targets: [
        .executableTarget(
            name: "EmbedXfer",
            dependencies: [
                .product(name: "Framing", package: "xfer"),
                .product(name: "Transfer", package: "xfer"),
            ]
        )
    ]
)
