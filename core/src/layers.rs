//! The layers of `caravan-core`, tested (docs/decisions/0033-layers.md).
//!
//! Every top-level module of the crate sits on one layer, and a module may name only
//! modules of lower layers (or its own). The test reads the sources of the crate (code
//! and tests alike), finds every path that leaves a module (`crate::x`, a `crate::{…}`
//! group, a root re-export such as `crate::Store`, a `super::` chain that climbs out of
//! the module), and fails with file and line on an edge that goes up or sideways, and
//! on any cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use the modules of the layers before its
/// own; modules of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    // What every layer reports and shares: the error type, byte codecs, threads.
    &["error"],
    &["codec", "parallel"],
    // Primitives: cryptography, vocabularies, the identifier screen.
    &["crypto", "vocab", "privacy"],
    // Shared identifiers and erasure records.
    &["ids"],
    &["tombstone", "identity", "dedup"],
    // The case record, then the sync protocol that carries it.
    &["model"],
    &["sync"],
    // The encrypted store and its sync engine.
    &["store"],
    // What reads and writes stores in bulk.
    &["export", "import"],
    // This test.
    &["layers"],
];

/// An edge between two top-level modules, with where it was found.
#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    at: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("source directory")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments and the contents of string and character literals blanked
/// (newlines kept, so line numbers hold): a path in a doc comment or a test's string is
/// not a use.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |c: u8| if c == b'\n' { b'\n' } else { b' ' };
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if b[i] == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            out.extend(std::iter::repeat_n(b' ', j + 1 - i));
            i = j + 1;
            while i < b.len() && !b[i..].starts_with(&close) {
                out.push(blank(b[i]));
                i += 1;
            }
            out.extend(std::iter::repeat_n(b' ', close.len().min(b.len() - i)));
            i += close.len();
        } else if b[i] == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    out.push(b' ');
                    i += 1;
                }
                out.push(blank(b[i]));
                i += 1;
            }
            out.push(b' ');
            i += 1;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            out.extend_from_slice(b"   ");
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // An escaped character literal ('\n', '\'', '\u{…}').
            let end = src[i + 2..].find('\'').map_or(b.len(), |e| i + 3 + e);
            out.extend(std::iter::repeat_n(b' ', end - i));
            i = end;
        } else {
            // Code outside literals and comments is kept; a non-ASCII byte there (a
            // character literal such as '…') cannot be part of a path.
            out.push(if b[i].is_ascii() { b[i] } else { b' ' });
            i += 1;
        }
    }
    String::from_utf8(out).expect("the blanked source is ASCII")
}

/// The module path of a file under `src/` (`store/sync/live.rs` → `store::sync::live`;
/// a `mod.rs` is its directory).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn ident_at(s: &str, from: usize) -> &str {
    let rest = &s[from..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The first segments of the names inside a `{…}` group that starts at `open`.
fn group_heads(s: &str, open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (k, c) in s[open..].char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if depth == 1 && expecting && (c.is_ascii_alphabetic() || c == '_') => {
                heads.push(ident_at(s, open + k).to_string());
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules of the crate and where each root re-export comes from
/// (`Store` → `store`), read from lib.rs.
fn crate_root() -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = code_only(&std::fs::read_to_string(src_dir().join("lib.rs")).expect("lib.rs"));
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let words: Vec<&str> = stmt.split_whitespace().collect();
        if let Some(pos) = words.iter().position(|w| *w == "mod") {
            if let Some(name) = words.get(pos + 1) {
                modules.insert(name.to_string());
            }
        } else if let Some(at) = stmt.find("use ") {
            let path = &stmt[at + 4..];
            let module = ident_at(path, 0).to_string();
            match path.find('{') {
                Some(open) => {
                    for name in group_heads(path, open) {
                        reexports.insert(name, module.clone());
                    }
                }
                None => {
                    let name = path.rsplit("::").next().unwrap_or("").trim();
                    reexports.insert(name.to_string(), module.clone());
                }
            }
        }
    }
    (modules, reexports)
}

/// Every edge between two different top-level modules in the sources.
fn edges() -> Vec<Edge> {
    let (modules, reexports) = crate_root();
    let top = |name: &str| -> Option<String> {
        if modules.contains(name) {
            Some(name.to_string())
        } else {
            reexports.get(name).cloned()
        }
    };
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).expect("under src").to_path_buf();
        let module = module_path(&rel);
        let Some(own) = module.first().filter(|m| modules.contains(*m)).cloned() else {
            continue; // lib.rs
        };
        let code = code_only(&std::fs::read_to_string(&file).expect("source"));
        let line_of = |at: usize| code[..at].matches('\n').count() + 1;
        let mut add = |to: Option<String>, at: usize| {
            if let Some(to) = to.filter(|t| *t != own) {
                out.push(Edge {
                    from: own.clone(),
                    to,
                    at: format!("core/src/{}:{}", rel.display(), line_of(at)),
                });
            }
        };
        let bytes = code.as_bytes();
        let mut k = 0;
        while k < code.len() {
            let word_start =
                k == 0 || !(bytes[k - 1].is_ascii_alphanumeric() || bytes[k - 1] == b'_');
            if word_start && code[k..].starts_with("crate::") {
                let after = k + "crate::".len();
                if code[after..].starts_with('{') {
                    for head in group_heads(&code, after) {
                        add(top(&head), k);
                    }
                } else {
                    add(top(ident_at(&code, after)), k);
                }
                k = after;
            } else if word_start && code[k..].starts_with("super::") {
                // A chain of `super::` that climbs above the module's own top level
                // reaches the crate root; what it names next is the target.
                let mut at = k;
                let mut ups = 0;
                while code[at..].starts_with("super::") {
                    ups += 1;
                    at += "super::".len();
                }
                // `super` from a file's module goes to its parent: from `a::b::c`,
                // one `super` is `a::b`; reaching the root takes as many as the depth.
                if ups >= module.len() {
                    if code[at..].starts_with('{') {
                        for head in group_heads(&code, at) {
                            add(top(&head), k);
                        }
                    } else {
                        add(top(ident_at(&code, at)), k);
                    }
                }
                k = at;
            } else {
                k += 1;
            }
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The modules of a cycle in `edges`, if there is one.
fn find_cycle(edges: &[Edge]) -> Option<Vec<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().insert(&e.to);
    }
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, &graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_module_has_a_layer() {
    let (modules, _) = crate_root();
    let missing: Vec<&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "top-level modules with no layer in core/src/layers.rs: {missing:?}; place them \
         (docs/decisions/0033-layers.md)"
    );
}

#[test]
fn modules_use_only_lower_layers() {
    let edges = edges();
    assert!(
        edges.len() > 100,
        "the scan found {} edges: it no longer reads the sources",
        edges.len()
    );
    let bad: Vec<String> = edges
        .iter()
        .filter(|e| match (layer_of(&e.from), layer_of(&e.to)) {
            (Some(from), Some(to)) => to >= from,
            _ => true,
        })
        .map(|e| format!("{} -> {} at {}", e.from, e.to, e.at))
        .collect();
    assert!(
        bad.is_empty(),
        "modules that use a module of their own or a higher layer \
         (docs/decisions/0033-layers.md):\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_cycle_between_modules() {
    let edges = edges();
    if let Some(cycle) = find_cycle(&edges) {
        let evidence: Vec<String> = cycle
            .windows(2)
            .filter_map(|w| edges.iter().find(|e| e.from == w[0] && e.to == w[1]))
            .map(|e| format!("{} -> {} at {}", e.from, e.to, e.at))
            .collect();
        panic!(
            "cycle between core modules: {}\n{}",
            cycle.join(" -> "),
            evidence.join("\n")
        );
    }
}

/// The scanner itself: it sees each way a path leaves a module, and none in comments
/// or strings.
#[test]
fn the_scan_sees_every_form_of_path() {
    let src = "use crate::store::Store;\nuse crate::{model::CaseId, sync};\n\
               let s = \"crate::export\"; // crate::import\n/* crate::dedup */ crate::Store::open();\n\
               'x'; '\\''; r#\"crate::vocab\"#;";
    let code = code_only(src);
    assert!(code.contains("crate::store::Store"));
    assert!(code.contains("crate::{model::CaseId, sync}"));
    for hidden in ["export", "import", "dedup", "vocab"] {
        assert!(!code.contains(hidden), "{hidden} survived blanking: {code}");
    }
    assert_eq!(code.matches('\n').count(), src.matches('\n').count());
    assert_eq!(
        group_heads("{model::CaseId, sync::{a, b}, ids}", 0),
        ["model", "sync", "ids"]
    );
    assert_eq!(
        module_path(Path::new("store/sync/mod.rs")),
        ["store", "sync"]
    );
    let cyclic = [("a", "b"), ("b", "c"), ("c", "a")].map(|(f, t)| Edge {
        from: f.into(),
        to: t.into(),
        at: String::new(),
    });
    assert_eq!(
        find_cycle(&cyclic).map(|c| c.len()),
        Some(4),
        "a -> b -> c -> a"
    );
    assert_eq!(find_cycle(&cyclic[..2]), None);
}
