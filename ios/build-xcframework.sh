#!/usr/bin/env bash
# Builds the Rust core for iOS and packages it for the Swift package in this folder:
#
#   ios/CaravanCoreFFI.xcframework          static libcaravan_ffi.a + C header + module map,
#                                           for devices (arm64) and the simulator (arm64 + x86_64)
#   ios/Sources/CaravanCore/CaravanCore.swift   the generated Swift bindings
#
# Run on a Mac with Xcode and rustup:  ./build-xcframework.sh [--debug]
# Needs: rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
profile=release
cargo_flags=(--release)
if [[ "${1:-}" == "--debug" ]]; then
  profile=debug
  cargo_flags=()
fi
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
build="$here/build"
lib=libcaravan_ffi.a

[[ "$(uname -s)" == Darwin ]] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }
command -v xcodebuild >/dev/null || { echo "xcodebuild not found: install Xcode" >&2; exit 1; }

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
installed="$(rustup target list --installed)"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || { echo "missing Rust target $t: rustup target add $t" >&2; exit 1; }
done

cd "$repo"
export IPHONEOS_DEPLOYMENT_TARGET=15.0
for t in "${targets[@]}"; do
  echo "== cargo build $t ($profile)"
  cargo build --locked -p caravan-ffi --lib --target "$t" "${cargo_flags[@]}"
done

echo "== generating the Swift bindings"
rm -rf "$build"
mkdir -p "$build/swift" "$build/headers" "$build/sim"
# Library mode reads the bindings' metadata from any of the built libraries; the
# generator is the workspace's own uniffi-bindgen (same UniFFI version as the runtime).
cargo run --locked -p caravan-ffi --features cli --bin uniffi-bindgen -- \
  generate "$target_dir/aarch64-apple-ios/$profile/$lib" \
  --language swift --out-dir "$build/swift" --no-format
cp "$build/swift/CaravanCoreFFI.h" "$build/headers/"
# An XCFramework wants the module map to be called module.modulemap.
cp "$build/swift/CaravanCoreFFI.modulemap" "$build/headers/module.modulemap"
cp "$build/swift/CaravanCore.swift" "$here/Sources/CaravanCore/CaravanCore.swift"

echo "== lipo: one simulator library for arm64 and x86_64"
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/$profile/$lib" \
  "$target_dir/x86_64-apple-ios/$profile/$lib" \
  -output "$build/sim/$lib"

echo "== xcodebuild -create-xcframework"
rm -rf "$here/CaravanCoreFFI.xcframework"
xcodebuild -create-xcframework \
  -library "$target_dir/aarch64-apple-ios/$profile/$lib" -headers "$build/headers" \
  -library "$build/sim/$lib" -headers "$build/headers" \
  -output "$here/CaravanCoreFFI.xcframework"

echo "Done: $here/CaravanCoreFFI.xcframework and Sources/CaravanCore/CaravanCore.swift"
