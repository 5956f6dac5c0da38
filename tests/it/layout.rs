//! The files of `src/` import one another one way: no cycle, so the data reads receiver →
//! queue → worker → diagnosis (← cxone) → notify, and a file can be understood from the
//! files it imports alone.
//!
//! An edge is any path from one file to another: a `use` (groups and globs included) or a
//! `crate::…` / `super::…` / `self::…` path in code, where `a::b::c` counts for the
//! deepest file it names (`a/b.rs`, else `a/mod.rs` or `a.rs`). A parent's re-export of
//! its child counts too, so a child may not import its parent back. Comments, strings and
//! `#[cfg(test)]` modules are left out. Run alone: `cargo test --test it layout`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of `src/` by its module path (`["crate", "cxone", "client"]`).
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    let root = src();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Module = vec!["crate".into()];
            module.extend(rel.iter().map(|s| s.to_string_lossy().into_owned()));
            if module.last().is_some_and(|s| s == "mod") {
                module.pop();
            }
            if module == ["crate", "lib"] {
                module = vec!["crate".into()];
            } else if module == ["crate", "main"] {
                module = vec!["main".into()];
            }
            (module, path)
        })
        .collect()
}

/// The source without comments, string and char literals, and `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(len) = raw_string_len(rest, i == 0 || is_ident(b[i - 1])) {
            out.push_str("\"\"");
            i += len;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if let Some(len) = char_literal_len(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    without_test_modules(&out)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `r"…"`, `r#"…"#`, `br"…"` at the start of `s`: its length.
fn raw_string_len(s: &str, at_token_start: bool) -> Option<usize> {
    if !at_token_start {
        return None;
    }
    let body = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let hashes = body.len() - body.trim_start_matches('#').len();
    let body = body[hashes..].strip_prefix('"')?;
    let end = format!("\"{}", "#".repeat(hashes));
    let close = body.find(&end)?;
    Some(s.len() - body.len() + close + end.len())
}

/// `'x'` or `'\n'` at the start of `s` (not a lifetime): its length.
fn char_literal_len(s: &str) -> Option<usize> {
    if !s.starts_with('\'') {
        return None;
    }
    let mut chars = s.char_indices().skip(1);
    let (_, c) = chars.next()?;
    if c == '\\' {
        let close = s[2..].find('\'')?;
        return Some(close + 3);
    }
    match chars.next() {
        Some((j, '\'')) => Some(j + 1),
        _ => None,
    }
}

fn without_test_modules(code: &str) -> String {
    let mut out = code.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = &out[at + "#[cfg(test)]".len()..];
        let item = after.trim_start();
        let item = item
            .strip_prefix("pub(crate)")
            .or_else(|| item.strip_prefix("pub"))
            .unwrap_or(item)
            .trim_start();
        let Some(open) = item.starts_with("mod ").then(|| item.find('{')).flatten() else {
            // A test-only item that is not a module: drop the attribute only.
            out.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        };
        let start = out.len() - item.len() + open + 1;
        let mut depth = 1;
        let mut end = start;
        for (k, c) in out[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = start + k + 1;
                break;
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p))
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// The file a path names, seen from `from`: the deepest module file it reaches.
fn resolve(from: &Module, path: &str, files: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let segments: Vec<&str> = path
        .split("::")
        .map(|s| s.split(" as ").next().unwrap_or(s).trim())
        .filter(|s| !s.is_empty())
        .collect();
    let (mut current, rest): (Module, &[&str]) = match segments.first()? {
        &"crate" => (vec!["crate".into()], &segments[1..]),
        &"self" => (from.clone(), &segments[1..]),
        &"super" => {
            let supers = segments.iter().take_while(|s| **s == "super").count();
            let mut m = from.clone();
            m.truncate(m.len().saturating_sub(supers));
            (m, &segments[supers..])
        }
        // A child module named without `self::` (edition 2018 paths).
        first => {
            let mut child = from.clone();
            child.push(first.to_string());
            if !files.contains_key(&child) {
                return None;
            }
            (from.clone(), &segments[..])
        }
    };
    let mut best = files.contains_key(&current).then(|| current.clone());
    for s in rest {
        current.push(s.to_string());
        if files.contains_key(&current) {
            best = Some(current.clone());
        } else {
            break;
        }
    }
    best
}

/// Every file's imports of other files.
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let files = modules();
    let mut edges = BTreeMap::new();
    for (module, path) in &files {
        let code = code_of(&std::fs::read_to_string(path).unwrap());
        let mut deps = BTreeSet::new();
        let mut add = |p: &str| {
            if let Some(to) = resolve(module, p, &files)
                && &to != module
            {
                deps.insert(to);
            }
        };
        // `use` trees.
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use ") {
            let word_start = at == 0 || !is_ident(rest.as_bytes()[at - 1]);
            let tail = &rest[at + 4..];
            let end = tail.find(';').unwrap_or(tail.len());
            if word_start {
                for p in expand(&tail[..end]) {
                    add(&p);
                }
            }
            rest = &tail[end.min(tail.len())..];
        }
        // Paths in code: `crate::a::b`, `super::x`, `self::y`.
        for root in ["crate::", "super::", "self::"] {
            let mut from = 0;
            while let Some(at) = code[from..].find(root) {
                let start = from + at;
                from = start + root.len();
                if start > 0 && is_ident(code.as_bytes()[start - 1]) {
                    continue;
                }
                let len = code[start..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(code.len() - start);
                let path = &code[start..start + len];
                // `super::{a, b}` is a `use` group, read above as its members.
                if !path.ends_with("::") {
                    add(path);
                }
            }
        }
        edges.insert(module.clone(), deps);
    }
    edges
}

/// The strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in &self.edges[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_file_of_src_imports_a_file_that_imports_it_back() {
    let edges = graph();
    assert!(edges.len() > 50, "src/ not found: {} files", edges.len());
    let report: Vec<String> = cycles(&edges)
        .iter()
        .map(|component| {
            let members: BTreeSet<&Module> = component.iter().collect();
            component
                .iter()
                .map(|m| {
                    let into: Vec<String> = edges[m]
                        .iter()
                        .filter(|d| members.contains(d))
                        .map(|d| d.join("::"))
                        .collect();
                    format!("  {} -> {}", m.join("::"), into.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert!(
        report.is_empty(),
        "import cycles between files of src/ (each line: a file -> the files of its cycle it imports):\n{}",
        report.join("\n\n")
    );
}

#[test]
fn the_checker_sees_uses_groups_paths_and_re_exports_but_not_tests_or_comments() {
    let code = code_of(
        "use crate::a::{b, c::{D, e}};\n// use crate::z;\nlet s = \"crate::y\";\n\
         fn f() { super::g::h(); }\n#[cfg(test)]\nmod tests { use crate::t; }\n",
    );
    assert!(!code.contains("crate::z") && !code.contains("crate::y"));
    assert!(!code.contains("crate::t"), "{code}");
    assert_eq!(
        expand("crate::a::{b, c::{D, e}}"),
        ["crate::a::b", "crate::a::c::D", "crate::a::c::e"]
    );
    let mut files = BTreeMap::new();
    for m in [
        &["crate"][..],
        &["crate", "a"],
        &["crate", "a", "b"],
        &["crate", "g"],
    ] {
        files.insert(
            m.iter().map(|s| s.to_string()).collect::<Module>(),
            PathBuf::new(),
        );
    }
    let from: Module = vec!["crate".into(), "a".into()];
    let b: Module = vec!["crate".into(), "a".into(), "b".into()];
    assert_eq!(resolve(&from, "crate::a::b::Item", &files), Some(b.clone()));
    assert_eq!(resolve(&from, "b::Item", &files), Some(b.clone()));
    assert_eq!(resolve(&b, "super::Thing", &files), Some(from.clone()));
    // A cycle of two is found; a line is not.
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    edges.insert(from.clone(), [b.clone()].into());
    edges.insert(b.clone(), BTreeSet::new());
    assert!(cycles(&edges).is_empty());
    edges.insert(b.clone(), [from.clone()].into());
    assert_eq!(cycles(&edges).len(), 1);
}
