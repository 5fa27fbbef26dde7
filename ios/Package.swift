// swift-tools-version:5.9
// Caravan for iOS: the Rust core as an XCFramework, its generated Swift bindings, and a
// small hand-written layer (Keychain-held key, PIN vault with duress PIN, panic wipe,
// case form, local-network sync). Run ./build-xcframework.sh first (see README.md).
import PackageDescription

let package = Package(
    name: "Caravan",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "CaravanKit", targets: ["CaravanKit"]),
    ],
    targets: [
        // libcaravan_ffi.a + CaravanCoreFFI.h + module map, made by build-xcframework.sh.
        .binaryTarget(name: "CaravanCoreFFI", path: "CaravanCoreFFI.xcframework"),
        // The generated CaravanCore.swift (copied here by build-xcframework.sh; not committed).
        .target(
            name: "CaravanCore",
            dependencies: ["CaravanCoreFFI"],
            path: "Sources/CaravanCore"
        ),
        .target(
            name: "CaravanKit",
            dependencies: ["CaravanCore"],
            path: "Sources/CaravanKit"
        ),
    ]
)
