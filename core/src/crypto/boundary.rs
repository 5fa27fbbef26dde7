//! The boundary of this module, tested: no file of `caravan-core` outside
//! `core/src/crypto/` names a cryptography crate (nor do the CLI, the bindings, the
//! benchmark and the crash test), so every primitive is used through this module
//! (docs/decisions/0028-crypto-in-one-place.md).

use std::path::{Path, PathBuf};

/// Crates that hold cryptographic primitives (dependencies of the workspace, and the
/// usual others, so that a new one is caught too).
const CRYPTO_CRATES: &[&str] = &[
    "ring",
    "ed25519_dalek",
    "x25519_dalek",
    "curve25519_dalek",
    "argon2",
    "chacha20poly1305",
    "chacha20",
    "poly1305",
    "aead",
    "hkdf",
    "hmac",
    "sha2",
    "sha3",
    "digest",
    "blake2",
    "blake3",
    "aes",
    "aes_gcm",
    "rand",
    "rand_core",
    "getrandom",
    "subtle",
    "signature",
    "pbkdf2",
    "scrypt",
];

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where `line` names the crate `name` as a path root (`ring::…`, `::ring::…`,
/// `use ring;`, `use ring as r;`, `extern crate ring`), as opposed to a module of the
/// same name inside another path (`crate::crypto::hkdf::Prk`) or a plain word.
fn names_crate(line: &str, name: &str) -> bool {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(found) = line[from..].find(name) {
        let start = from + found;
        let end = start + name.len();
        from = end;
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        if bytes.get(end).copied().is_some_and(is_ident) {
            continue;
        }
        let before = line[..start].trim_end();
        let after = line[end..].trim_start();
        // A method (`.digest::<8>()`) or a generic function (`digest::<8>`) is no crate.
        if before.ends_with('.') || after.starts_with("::<") {
            continue;
        }
        // A segment after `something::` is inside another path, unless the `::` is the
        // absolute-path prefix (`::ring::…`).
        if let Some(prefix) = before.strip_suffix("::") {
            let prefix = prefix.trim_end();
            let absolute = prefix.ends_with("use") || !prefix.bytes().last().is_some_and(is_ident);
            if absolute {
                return true;
            }
            continue;
        }
        let path_root = after.starts_with("::");
        let used = (before.ends_with("use") || before.ends_with("crate"))
            && (after.starts_with(';') || after.starts_with("as ") || after.starts_with("::"));
        if path_root || used {
            return true;
        }
    }
    false
}

/// Every `(file, line number, crate)` where a `.rs` file under `dir` names a crypto
/// crate, skipping `skip` (the crypto module itself).
fn offenders(dir: &Path, skip: Option<&Path>, out: &mut Vec<(PathBuf, usize, &'static str)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if Some(path.as_path()) == skip {
            continue;
        }
        if path.is_dir() {
            offenders(&path, skip, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            for (n, line) in text.lines().enumerate() {
                for name in CRYPTO_CRATES {
                    if names_crate(line, name) {
                        out.push((path.clone(), n + 1, name));
                    }
                }
            }
        }
    }
}

#[test]
fn the_detector_finds_crate_paths_and_only_them() {
    for line in [
        "use ring::digest;",
        "    let d = ring::digest::digest(&ring::digest::SHA256, x);",
        "use ::ring::hmac;",
        "let k = (ring::hmac::Key::new(a, b));",
        "use argon2;",
        "extern crate x25519_dalek;",
        "use curve25519_dalek::scalar::Scalar;",
        "impl hkdf::KeyType for Len {",
    ] {
        let hit = CRYPTO_CRATES.iter().any(|c| names_crate(line, c));
        assert!(hit, "missed: {line}");
    }
    for line in [
        "use crate::crypto::hkdf::Prk;",
        "let k = crate::crypto::aead::AeadKey::new(&k);",
        "let s = String::new();",
        "ring buffer; the ring of keys",
        "let x25519 = B32(me.x25519().public());",
        "fn digest(&self) -> [u8; 32] {",
        "self.digest::<8>()",
    ] {
        let hit: Vec<&&str> = CRYPTO_CRATES
            .iter()
            .filter(|c| names_crate(line, c))
            .collect();
        assert!(hit.is_empty(), "false alarm {hit:?}: {line}");
    }
}

#[test]
fn no_other_module_names_a_crypto_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crypto = root.join("src").join("crypto");
    let mut found = Vec::new();
    offenders(&root.join("src"), Some(&crypto), &mut found);
    assert!(
        crypto.join("mod.rs").is_file(),
        "the crypto module moved: {}",
        crypto.display()
    );
    // The rest of the workspace uses caravan-core's API, never a primitive.
    for other in ["cli/src", "bindings/src", "bench/src", "tests/src"] {
        offenders(&root.join("..").join(other), None, &mut found);
    }
    let report: Vec<String> = found
        .iter()
        .map(|(path, line, name)| format!("{}:{line}: names `{name}`", path.display()))
        .collect();
    assert!(
        report.is_empty(),
        "cryptography outside core/src/crypto/ (use the primitives of `crate::crypto`):\n{}",
        report.join("\n")
    );
}
