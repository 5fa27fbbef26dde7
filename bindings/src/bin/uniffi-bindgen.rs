//! The UniFFI generator, built from the same pinned UniFFI version as the library.
//!
//! `cargo run -p caravan-ffi --features cli --bin uniffi-bindgen -- generate --library
//! target/debug/libcaravan_ffi.so --language kotlin --out-dir target/bindings/kotlin`
//! (or `cargo uniffi-bindgen ...`); `bindings/generate.sh` runs it for every language.

fn main() {
    uniffi::uniffi_bindgen_main()
}
