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
//! Swift strings cannot hold lone surrogates. Also in Python: an integer argument out of
//! its type's range (`year=-1` for a `u16`, `max_frame=2**32`) raised the generated
//! `ValueError`; it raises `CaravanError.InvalidInput` (field `number`) now. In Kotlin
//! and Swift the unsigned types make such values a compile-time error.
//!
//! And in Kotlin's `CaravanStore` (red-team F3 of 2026-12-04): `close()` and `use {}`
//! (UniFFI's extension on `Disposable`) call `closeStore()` (the one close: later calls
//! answer the typed `ReopenStore`) instead of UniFFI's `destroy()`; and a call on a
//! handle destroyed anyway (`destroy()`) throws `CaravanException.ReopenStore` instead
//! of `IllegalStateException`. And for the case list (issue 16: Kotlin `listCases`
//! ≤ 2× Rust): the `VocabularyCode` reader shares one immutable `Known` per index and an
//! empty list of codes is the shared `emptyList()`. A generated file that no longer has
//! the expected text (another UniFFI version) fails the generation, loudly.

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

/// The generated reader of a `VocabularyCode`: one new `Known` object per value read.
const KNOWN_FROM: &str =
    "public object FfiConverterTypeVocabularyCode : FfiConverterRustBuffer<VocabularyCode>{
    override fun read(buf: ByteBuffer): VocabularyCode {
        return when(buf.getInt()) {
            1 -> VocabularyCode.Known(
                FfiConverterUShort.read(buf),
                )";

/// Known codes are immutable, so a list of 10,000 summaries shares one `Known` per
/// index instead of allocating about eight per row (issue 16: Kotlin `listCases`).
const KNOWN_TO: &str =
    "// Patched by Caravan's uniffi-bindgen: a `Known` code is immutable, so the reader
// hands out one shared instance per index (a case list reads about eight per row).
private val caravanKnownCodes = Array(1024) { VocabularyCode.Known(it.toUShort()) }

public object FfiConverterTypeVocabularyCode : FfiConverterRustBuffer<VocabularyCode>{
    override fun read(buf: ByteBuffer): VocabularyCode {
        return when(buf.getInt()) {
            1 -> FfiConverterUShort.read(buf).let { i ->
                caravanKnownCodes.getOrNull(i.toInt()) ?: VocabularyCode.Known(i)
                }";

/// The generated reader of a list of codes: an empty list is a new `ArrayList`.
const CODES_FROM: &str = "    override fun read(buf: ByteBuffer): List<VocabularyCode> {
        val len = buf.getInt()
        return List<VocabularyCode>(len) {";

const CODES_TO: &str = "    override fun read(buf: ByteBuffer): List<VocabularyCode> {
        val len = buf.getInt()
        if (len == 0) return emptyList() // Patched by Caravan's uniffi-bindgen: shared.
        return List<VocabularyCode>(len) {";

/// Patches the Kotlin file: the string converter, `use {}`, the vocabulary code
/// readers, then the `CaravanStore` class alone.
fn patch_kotlin(t: &str) -> Option<String> {
    if t.matches(KOTLIN_FROM).count() != 1
        || t.matches(USE_FROM).count() != 1
        || t.matches(KNOWN_FROM).count() != 1
        || t.matches(CODES_FROM).count() != 1
    {
        return None;
    }
    let t = t
        .replace(KOTLIN_FROM, KOTLIN_TO)
        .replace(USE_FROM, USE_TO)
        .replace(KNOWN_FROM, KNOWN_TO)
        .replace(CODES_FROM, CODES_TO);
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

/// The generated range check of every Python integer argument (red-team F4 of
/// 2026-12-05: `year=-1`, `max_frame=2**32`, `k=-1` raised a bare `ValueError`).
const PYTHON_INT_FROM: &str = "            raise ValueError(\"{} requires {} <= value < {}\".format(cls.CLASS_NAME, cls.VALUE_MIN, cls.VALUE_MAX))";

const PYTHON_INT_TO: &str = "            # Patched by Caravan's uniffi-bindgen: an out-of-range number is a typed error
            # (the value is not quoted: it may be something a user typed).
            raise CaravanError.InvalidInput(
                \"number\",
                \"a number is out of range (this argument takes {} to {}); nothing was changed\".format(
                    cls.VALUE_MIN, cls.VALUE_MAX - 1),
            ) from None";

/// Patches the Python file: the string converter (lone surrogates) and the integer
/// range check.
fn patch_python(t: &str) -> Option<String> {
    if t.matches(PYTHON_INT_FROM).count() != 1 {
        return None;
    }
    let t = t.replace(PYTHON_INT_FROM, PYTHON_INT_TO);
    let (head, tail) = t.split_once(PYTHON_MARK)?;
    let (class, rest) = tail.split_once("\nclass ")?;
    (class.matches("value.encode(\"utf-8\")").count() == 2).then(|| {
        format!(
            "{head}{PYTHON_HELPER}{PYTHON_MARK}{}\nclass {rest}",
            class.replace("value.encode(\"utf-8\")", "_caravan_utf8(value)")
        )
    })
}

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
        patch(path, patch_python)?;
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
