// swift-tools-version:6.0
// Adapters between this package and the Swift server ecosystem: swift-service-lifecycle,
// swift-log and swift-metrics. A package of its own, so that the library keeps zero package
// dependencies; the adapters are small enough to copy, and compiled and tested here.
// (`swift-websocket-server` is a symlink to the repository root, so that the dependency has
// that name wherever the repository is cloned.)
import PackageDescription

let package = Package(
    name: "websocket-integrations",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WebSocketIntegrations", targets: ["WebSocketIntegrations"]),
    ],
    dependencies: [
        .package(path: "swift-websocket-server"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "WebSocketIntegrations", dependencies: [
            .product(name: "WebSocketServer", package: "swift-websocket-server"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "WebSocketIntegrationsTests", dependencies: [
            "WebSocketIntegrations",
            .product(name: "WebSocketClient", package: "swift-websocket-server"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
