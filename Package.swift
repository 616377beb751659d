// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-websocket-server",
    products: [
        .library(name: "WebSocketCore", targets: ["WebSocketCore"]),
        .library(name: "WebSocketServer", targets: ["WebSocketServer"]),
        .library(name: "WebSocketTLS", targets: ["WebSocketTLS"]),
        .library(name: "WebSocketClient", targets: ["WebSocketClient"]),
        .library(name: "WebSocketRedis", targets: ["WebSocketRedis"]),
        .executable(name: "websocket-echo", targets: ["websocket-echo"]),
        .executable(name: "websocket-chat", targets: ["websocket-chat"]),
        .executable(name: "websocket-hello", targets: ["websocket-hello"]),
        .executable(name: "websocket-explained", targets: ["websocket-explained"]),
        .executable(name: "websocket-cat", targets: ["websocket-cat"]),
        .executable(name: "websocket-core-bench", targets: ["websocket-core-bench"]),
        .executable(name: "websocket-client-bench", targets: ["websocket-client-bench"]),
        .executable(name: "websocket-topics-bench", targets: ["websocket-topics-bench"]),
    ],
    targets: [
        // The system zlib, used by permessage-deflate (RFC 7692).
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // RFC 6455 as a sans-I/O engine: bytes in, events out.
        .target(name: "WebSocketCore", dependencies: ["CZlib"]),
        // POSIX sockets and Dispatch around WebSocketCore.
        .target(name: "WebSocketServer", dependencies: ["WebSocketCore", "CWebSocketShims"]),
        // accept4(2), which Swift's Glibc module does not declare.
        .target(name: "CWebSocketShims"),
        // The system OpenSSL 3 (`libssl-dev` on Debian and Ubuntu), for TLS. Only WebSocketTLS
        // uses it: a server without TLS builds without OpenSSL's headers. No pkg-config name:
        // SwiftPM would look it up (and warn) even in packages that never build this target.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // wss:// and https:// for WebSocketServer (and its client), on COpenSSL.
        .target(name: "WebSocketTLS", dependencies: ["WebSocketServer", "COpenSSL"]),
        // The client: ws:// and wss:// connections, on the same loops and WebSocket type as the server.
        .target(name: "WebSocketClient", dependencies: ["WebSocketCore", "WebSocketServer", "WebSocketTLS"]),
        // Topics across server processes through Redis pub/sub: a RESP codec and the backplane.
        .target(name: "WebSocketRedis", dependencies: ["WebSocketCore", "WebSocketServer"]),

        // The examples, and what they share (options, the start line, shutdown on SIGINT/SIGTERM).
        .target(name: "ExampleSupport", dependencies: ["WebSocketServer", "WebSocketTLS"], path: "Examples/ExampleSupport"),
        .executableTarget(name: "websocket-echo", dependencies: ["ExampleSupport"], path: "Examples/websocket-echo"),
        .executableTarget(name: "websocket-chat", dependencies: ["ExampleSupport", "WebSocketRedis"], path: "Examples/websocket-chat"),
        .executableTarget(name: "websocket-hello", dependencies: ["ExampleSupport"], path: "Examples/websocket-hello"),
        .executableTarget(name: "websocket-explained", dependencies: ["ExampleSupport"], path: "Examples/websocket-explained"),
        .executableTarget(name: "websocket-cat", dependencies: ["ExampleSupport", "WebSocketClient"], path: "Examples/websocket-cat"),
        .executableTarget(name: "websocket-core-bench", dependencies: ["WebSocketCore", "CZlib"], path: "Benchmarks/websocket-core-bench"),
        .target(name: "BenchmarkSupport", path: "Benchmarks/BenchmarkSupport"),
        .executableTarget(name: "websocket-client-bench", dependencies: ["WebSocketClient", "BenchmarkSupport"], path: "Benchmarks/websocket-client-bench"),
        .executableTarget(name: "websocket-topics-bench", dependencies: ["WebSocketClient", "WebSocketRedis", "BenchmarkSupport"],
                          path: "Benchmarks/websocket-topics-bench"),

        .testTarget(name: "WebSocketCoreTests", dependencies: ["WebSocketCore"]),
        .testTarget(name: "WebSocketServerTests", dependencies: ["WebSocketServer", "WebSocketCore", "WebSocketTLS", "WebSocketClient", "WebSocketRedis"],
                    exclude: ["TLSFixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
