#!/usr/bin/env bash
# Builds libcaravan_ffi and generates the Kotlin, Swift and Python bindings from it in
# library mode, with the uniffi-bindgen built from the same pinned UniFFI version.
#
#   bash bindings/generate.sh [--release]
#
# Output: $TARGET/bindings/{kotlin,swift,python}/ (not committed) and the path of the
# library in $TARGET/bindings/LIBRARY. $TARGET is $CARGO_TARGET_DIR or target/.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
if [[ "${1:-}" == "--release" ]]; then
  profile=release
fi
target="${CARGO_TARGET_DIR:-target}"
case "$(uname -s)" in
  Darwin) lib="$target/$profile/libcaravan_ffi.dylib" ;;
  *) lib="$target/$profile/libcaravan_ffi.so" ;;
esac
out="$target/bindings"

echo "== building caravan-ffi ($profile) and uniffi-bindgen"
if [[ $profile == debug ]]; then
  cargo build --locked -p caravan-ffi --features cli --lib --bin uniffi-bindgen
else
  cargo build --locked -p caravan-ffi --lib --release
  cargo build --locked -p caravan-ffi --features cli --bin uniffi-bindgen
fi
bindgen="$target/debug/uniffi-bindgen"

rm -rf "$out"
for language in kotlin swift python; do
  echo "== generating $language"
  "$bindgen" generate --library "$lib" --language "$language" --out-dir "$out/$language" --no-format
done
cp "$lib" "$out/"
cp "$lib" "$out/python/"  # the Python module loads the library from its own folder
basename "$lib" > "$out/LIBRARY"

echo "== checking the Swift bindings for the expected API"
swift="$out/swift/CaravanCore.swift"
missing=0
for symbol in \
  "open class CaravanStore" "enum CaravanError: Swift.Error" "case NoteRejected(" "case Internal(" \
  "public protocol ChangeListener" "public protocol ProgressListener" "func onCasesChanged" \
  'public static func `open`(dir: String, key: Data)' "func listCases(" "func addCase(" "func addNote(" \
  "func importBundle(" "func exportBundle(" "func eraseCase(" "func syncMailbox(" \
  "func liveReceive(" "func createGroup(" "func invite(" "func joinGroup(" \
  "public func vocabularies(" "public func debugForcePanic(" "open class QrReassembler" \
  "public enum CaseEdit" "func panicWipe()" "public func panicWipeDir(dir: String)" \
  "func listCaseIds(" "func caseSummaries(" "func invite(role: MemberRole)" \
  "func revokeMember(deviceIdHex: String)" "func myRole()" "public enum MemberRole" \
  "case NotPermitted(" "func quarantined()" "func resolveQuarantine(" "func joinRequest(" \
  "func inviteRemote(" "func partnerAgree(" "func shareCase(" "func importShare(" \
  "public func invitationCode(invitation: String)" "func userMessage(language: String)" "func detail()" \
  "public var startUtf16: UInt32" "func handoverFrames(" "func confirmHandover(" "func importHandover(" \
  "func handoverWaiting(" "func queryCases(" "public func vocabularyLabels(" "func syncMailbox(dir: String, progress:"; do
  if ! grep -qF "$symbol" "$swift"; then
    echo "missing in $swift: $symbol" >&2
    missing=1
  fi
done
[[ -f "$out/swift/CaravanCoreFFI.h" && -f "$out/swift/CaravanCoreFFI.modulemap" ]] || {
  echo "missing the Swift FFI header or module map" >&2
  missing=1
}
if [[ $missing -ne 0 ]]; then
  exit 1
fi
echo "Swift API symbols present."
echo "Bindings in $out: $(ls "$out" | tr '\n' ' ')"
