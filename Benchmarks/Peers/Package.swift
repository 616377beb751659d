// swift-tools-version:6.0
// The benchmark peers and the load generator. A package of its own so that the library keeps
// zero dependencies: SwiftNIO's NIOWebSocket and Hummingbird's WebSocket echo servers, and
// `loadgen`, a C load generator on raw sockets and epoll (OpenSSL for wss://) that shares no
// code with the library. nio-echo serves wss:// through swift-nio-ssl (BoringSSL).
import PackageDescription

let package = Package(
    name: "websocket-benchmark-peers",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        .executableTarget(name: "loadgen", linkerSettings: [.linkedLibrary("z"), .linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .executableTarget(name: "nio-echo", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .executableTarget(name: "hummingbird-echo", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
        ]),
    ]
)
