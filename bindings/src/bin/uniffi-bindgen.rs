//! The UniFFI generator, built from the same pinned UniFFI version as the library.
//!
//! `cargo run -p caravan-ffi --features cli --bin uniffi-bindgen -- generate --library
//! target/debug/libcaravan_ffi.so --language kotlin --out-dir target/bindings/kotlin`
//! (or `cargo uniffi-bindgen ...`); `bindings/generate.sh` and the Android Gradle build
//! run it.
//!
//! After generating, it patches one thing in the Kotlin and Python output: a string with
//! a lone UTF-16 surrogate (Kotlin `text.take(4000)` cutting an emoji in two; a Python
//! `str` with `"\ud83d"`) cannot be encoded as UTF-8, and the generated converters threw
//! `java.nio.charset.MalformedInputException` / `UnicodeEncodeError`, outside the one
//! error type the apps handle. The patched converters throw
//! `CaravanException.InvalidInput` / `CaravanError.InvalidInput` (field `text`) instead.
//! Swift strings cannot hold lone surrogates.
//!
//! And in Kotlin's `CaravanStore` (red-team F3 of 2026-12-04): `close()` and `use {}`
//! (UniFFI's extension on `Disposable`) call `closeStore()` (the one close: later calls
//! answer the typed `ReopenStore`) instead of UniFFI's `destroy()`; and a call on a
//! handle destroyed anyway (`destroy()`) throws `CaravanException.ReopenStore` instead
//! of `IllegalStateException`. A generated file that no longer has the expected text
//! (another UniFFI version) fails the generation, loudly.

use std::path::{Path, PathBuf};

const KOTLIN_FROM: &str = "        return Charsets.UTF_8.newEncoder().run {
            onMalformedInput(CodingErrorAction.REPORT)
            encode(CharBuffer.wrap(value))
        }";

const KOTLIN_TO: &str = "        // Patched by Caravan's uniffi-bindgen: a lone surrogate is a typed error.
        try {
            return Charsets.UTF_8.newEncoder().run {
                onMalformedInput(CodingErrorAction.REPORT)
                encode(CharBuffer.wrap(value))
            }
        } catch (e: java.nio.charset.CharacterCodingException) {
            throw CaravanException.InvalidInput(
                \"text\",
                \"the text contains a lone UTF-16 surrogate (half of an emoji or another character \" +
                    \"outside the basic plane, e.g. cut by take() or substring()); nothing was changed\",
            )
        }";

const STORE_CLASS: &str =
    "open class CaravanStore: Disposable, AutoCloseable, CaravanStoreInterface";

const STORE_CLOSE_FROM: &str = "    override fun close() {
        this.destroy()
    }";

const STORE_CLOSE_TO: &str = "    override fun close() {
        // Patched by Caravan's uniffi-bindgen: close() (and use {}) is the one close,
        // closeStore(); the handle stays valid and later calls answer ReopenStore.
        this.closeStore()
    }";

const STORE_DESTROYED_FROM: &str =
    "throw IllegalStateException(\"${this.javaClass.simpleName} object has already been destroyed\")";

const STORE_DESTROYED_TO: &str =
    "throw CaravanException.ReopenStore(\"this handle was destroyed; open the store again\")";

/// UniFFI's `use {}` extension (on `Disposable`, which Kotlin picks over
/// `AutoCloseable.use`) destroys; for a store it closes instead.
const USE_FROM: &str =
    "            // N.B. our implementation is on the nullable type `Disposable?`.
            this?.destroy()";

const USE_TO: &str = "            // N.B. our implementation is on the nullable type `Disposable?`.
            // Patched by Caravan's uniffi-bindgen: a store is closed (closeStore), not
            // destroyed, so later calls answer ReopenStore.
            if (this is CaravanStore) this.closeStore() else this?.destroy()";

/// Patches the Kotlin file: the string converter, `use {}`, then the `CaravanStore`
/// class alone.
fn patch_kotlin(t: &str) -> Option<String> {
    if t.matches(KOTLIN_FROM).count() != 1 || t.matches(USE_FROM).count() != 1 {
        return None;
    }
    let t = t.replace(KOTLIN_FROM, KOTLIN_TO).replace(USE_FROM, USE_TO);
    let (head, tail) = t.split_once(STORE_CLASS)?;
    let (class, rest) = tail.split_once("\nopen class ")?;
    if class.matches(STORE_CLOSE_FROM).count() != 1
        || class.matches(STORE_DESTROYED_FROM).count() != 1
    {
        return None;
    }
    let class = class
        .replace(STORE_CLOSE_FROM, STORE_CLOSE_TO)
        .replace(STORE_DESTROYED_FROM, STORE_DESTROYED_TO);
    Some(format!("{head}{STORE_CLASS}{class}\nopen class {rest}"))
}

const PYTHON_MARK: &str = "class _UniffiFfiConverterString:";

const PYTHON_HELPER: &str = "def _caravan_utf8(value):
    # Patched by Caravan's uniffi-bindgen: a lone surrogate is a typed error.
    try:
        return value.encode(\"utf-8\")
    except UnicodeEncodeError:
        raise CaravanError.InvalidInput(
            \"text\",
            \"the text contains a lone UTF-16 surrogate; nothing was changed\",
        ) from None


";

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn patch(path: &Path, edit: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if text.contains("Patched by Caravan's uniffi-bindgen") {
        return Ok(());
    }
    let patched = edit(&text).ok_or_else(|| {
        format!(
            "{}: the string converter is not the one Caravan patches (another UniFFI \
             version?); update bindings/src/bin/uniffi-bindgen.rs",
            path.display()
        )
    })?;
    std::fs::write(path, patched).map_err(|e| format!("{}: {e}", path.display()))
}

fn post_process(out_dir: &Path) -> Result<(), String> {
    let mut kotlin = Vec::new();
    files(out_dir, "kt", &mut kotlin);
    for path in kotlin.iter().filter(|p| p.ends_with("caravan_ffi.kt")) {
        patch(path, patch_kotlin)?;
    }
    let mut python = Vec::new();
    files(out_dir, "py", &mut python);
    for path in python.iter().filter(|p| p.ends_with("caravan_ffi.py")) {
        patch(path, |t| {
            let (head, tail) = t.split_once(PYTHON_MARK)?;
            let (class, rest) = tail.split_once("\nclass ")?;
            (class.matches("value.encode(\"utf-8\")").count() == 2).then(|| {
                format!(
                    "{head}{PYTHON_HELPER}{PYTHON_MARK}{}\nclass {rest}",
                    class.replace("value.encode(\"utf-8\")", "_caravan_utf8(value)")
                )
            })
        })?;
    }
    Ok(())
}

fn main() {
    uniffi::uniffi_bindgen_main();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("generate") {
        return;
    }
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--out-dir" || a == "-o")
        .and_then(|i| args.get(i + 1))
    {
        if let Err(e) = post_process(Path::new(dir)) {
            eprintln!("uniffi-bindgen: {e}");
            std::process::exit(1);
        }
    }
}
