// swift-tools-version:6.0
import Foundation
import PackageDescription

let package = Package(
    name: "faultline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "faultline", targets: ["faultline"]),
        .library(name: "Faultline", targets: ["Faultline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CEvent", path: "Sources/CEvent", pkgConfig: "libevent_openssl",
            providers: [.apt(["libevent-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .target(name: "CShims", path: "Sources/CShims"),
        .target(
            name: "Faultline",
            dependencies: [
                "CEvent", "COpenSSL", "CShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Faultline",
            // Release builds drop the runtime exclusivity checks: on the Redis path they were
            // ~5% of the proxy's CPU (swift_beginAccess and its thread-local lookups per
            // property access). Debug builds, which every test runs, keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .executableTarget(
            name: "faultline",
            dependencies: [
                "Faultline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/faultline"),
        .testTarget(
            name: "FaultlineTests", dependencies: ["Faultline"], path: "Tests/FaultlineTests"),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Faultline", "COpenSSL", "CShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/IntegrationTests"),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets, for scripts/fuzz only: they link only with -sanitize=fuzzer (which brings
// libFuzzer's driver), so a normal `swift build --build-tests` must not see them. "Extern":
// each main.swift calls that driver through @_extern(c).
if ProcessInfo.processInfo.environment["FAULTLINE_FUZZ"] == "1" {
    for name in ["RESPFuzz", "HTTPFuzz", "JSONFuzz"] {
        package.targets.append(.executableTarget(
            name: name, dependencies: ["Faultline"], path: "Sources/\(name)",
            swiftSettings: [.enableExperimentalFeature("Extern")]))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
