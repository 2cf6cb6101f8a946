//! The code's shape, checked: within each crate, the files' imports form no
//! circle (a module that imports from one that imports it back cannot be
//! read, moved or tested alone). The graph is read from the sources' own
//! `use` declarations and `crate::`/`super::` paths, so it cannot drift.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod common;

type Module = Vec<String>;

/// Every module file under `src`, by its module path (`lib.rs`/`main.rs`: the root).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap().with_extension("");
                let mut module: Module =
                    relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    module.pop();
                }
                found.insert(module, path);
            }
        }
    }
    found
}

/// The code without comments, string contents and `#[cfg(test)] mod tests`.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = String::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut in_string = false;
        for c in line.chars() {
            if c == '"' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The paths a file names, each marked if a `pub use` names it: every
/// `use` tree expanded, and inline `crate::`/`super::` paths.
fn paths(code: &str) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    for statement in code.split(';') {
        let words = statement.trim_start();
        // A module's `pub use` of its own children is its face, not a
        // dependency (the children may use what it defines); it is skipped
        // below when it names a child.
        let reexport = words.starts_with("pub use ") || words.starts_with("pub(crate) use ");
        let tree = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|p| words.strip_prefix(p))
            .or_else(|| words.find("\nuse ").map(|i| &words[i + 5..]));
        if let Some(tree) = tree {
            // `X as Y` keeps a marker; all other white space goes.
            let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut found = Vec::new();
            expand("", &tree.replace(" as ", "@").replace(' ', ""), &mut found);
            out.extend(found.into_iter().map(|path| (path, reexport)));
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(i) = code[at..].find(start) {
            let begin = at + i;
            let boundary = begin == 0
                || !(bytes[begin - 1].is_ascii_alphanumeric()
                    || bytes[begin - 1] == b'_'
                    || bytes[begin - 1] == b':');
            let end = code[begin..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| begin + e);
            if boundary {
                let path = code[begin..end].split("::").filter(|s| !s.is_empty());
                out.push((path.map(String::from).collect(), false));
            }
            at = end.max(begin + 1);
        }
    }
    out
}

/// `a::{b, c::{d}}` into `a::b`, `a::c::d` (after `prefix`).
fn expand(prefix: &str, tree: &str, out: &mut Vec<Vec<String>>) {
    match tree.find('{') {
        None => {
            let full = format!("{prefix}{tree}");
            let full = full.split('@').next().unwrap_or(&full);
            out.push(full.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        }
        Some(open) => {
            let head = format!("{prefix}{}", &tree[..open]);
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let (mut depth, mut from) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&head, &inner[from..i], out);
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            if from < inner.len() {
                expand(&head, &inner[from..], out);
            }
        }
    }
}

/// The module a path inside `from` names (the longest prefix that is a module file).
fn target(from: &Module, path: &[String], all: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let (mut at, mut rest): (Module, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("super" | "self") => (from.clone(), path),
        Some(first) => {
            // A child module named without `self::`.
            let mut child = from.clone();
            child.push(first.to_string());
            if !all.contains_key(&child) {
                return None;
            }
            (from.clone(), path)
        }
        None => return None,
    };
    while let Some(step) = rest.first().map(String::as_str) {
        match step {
            "super" => {
                at.pop();
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    for step in rest {
        let mut next = at.clone();
        next.push(step.clone());
        if !all.contains_key(&next) {
            break;
        }
        at = next;
    }
    Some(at)
}

/// Modules that reach themselves through the import graph, as found circles.
fn circles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let mut found = Vec::new();
    for start in edges.keys() {
        // A path from one of start's imports back to start.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(Module, Vec<Module>)> =
            edges[start].iter().map(|m| (m.clone(), vec![start.clone(), m.clone()])).collect();
        while let Some((at, trail)) = stack.pop() {
            if &at == start {
                found.push(trail);
                break;
            }
            if !seen.insert(at.clone()) {
                continue;
            }
            for next in edges.get(&at).into_iter().flatten() {
                let mut longer = trail.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    found
}

fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let all = modules(src);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &all {
        let text = code(&std::fs::read_to_string(file).unwrap());
        let entry = edges.entry(module.clone()).or_default();
        for (path, reexport) in paths(&text) {
            if let Some(to) = target(module, &path, &all) {
                let face = reexport && to.len() > module.len() && to.starts_with(module);
                if &to != module && !face {
                    entry.insert(to);
                }
            }
        }
    }
    edges
}

#[test]
fn no_module_imports_in_a_circle() {
    let root = common::root();
    let mut report = Vec::new();
    for krate in ["model", "train-cli", "app", "app/worker"] {
        for circle in circles(&graph(&root.join(krate).join("src"))) {
            let names: Vec<String> = circle
                .iter()
                .map(|m| if m.is_empty() { "crate".into() } else { m.join("::") })
                .collect();
            report.push(format!("{krate}: {}", names.join(" -> ")));
        }
    }
    assert!(report.is_empty(), "imports in a circle:\n{}", report.join("\n"));
}

#[test]
fn the_reader_finds_circles() {
    let dir = std::env::temp_dir().join(format!("dermlens-graph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "mod inner;\nuse inner::X;\n").unwrap();
    std::fs::write(dir.join("a/inner.rs"), "use crate::b::{Y, other::{Z}};\npub struct X;\n")
        .unwrap();
    std::fs::write(dir.join("b.rs"), "fn f() { super::a::go(); }\n").unwrap();
    let found = circles(&graph(&dir));
    assert!(found.iter().any(|c| c.len() == 4), "a -> a::inner -> b -> a: {found:?}");
    std::fs::remove_dir_all(dir).ok();
}
