//! The code's structure, held: `shared`'s top-level modules import each other without a
//! cycle (read from their `crate::` paths), and configuration, the ground floor, imports none
//! of them.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The code of a Rust file without its comments (line comments, doc comments included).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code names through `crate::` (`crate::a::b`, and each
/// item of `crate::{a, b::c}`).
fn crate_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `almanac_shared::` or `some_crate::` end in `crate::` too: only the keyword counts.
        if code[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.insert(ident(&item));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Each top-level module of `shared` and the others it imports.
fn shared_imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = repository().join("shared/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let code = without_comments(&std::fs::read_to_string(&file).unwrap());
        let names = graph.entry(module.clone()).or_default();
        names.extend(crate_modules(&code).into_iter().filter(|m| *m != module));
    }
    graph
}

/// A cycle of the graph, if it has one.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn reading_crate_paths_finds_each_module_named() {
    let code = "use crate::{\n    config::Settings,\n    jobs::{self, JobKind},\n    db,\n};\nlet x = crate::fetch::Fetcher::new(); almanac_shared::queue::x();";
    assert_eq!(
        crate_modules(code),
        BTreeSet::from(["config", "db", "fetch", "jobs"].map(String::from))
    );
    assert!(
        a_cycle(&BTreeMap::from([
            ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
            ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
        ]))
        .is_some()
    );
}

#[test]
fn shared_s_modules_import_each_other_without_a_cycle() {
    let graph = shared_imports();
    assert!(graph.len() > 15, "{graph:?}");
    if let Some(cycle) = a_cycle(&graph) {
        panic!(
            "shared's modules import each other in a circle: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn configuration_is_the_ground_floor() {
    let graph = shared_imports();
    assert_eq!(
        graph["config"],
        BTreeSet::new(),
        "shared/src/config/ imports other modules of shared"
    );
}

/// Whether `pattern` (a path, maybe with `*` in its last part) names something in `root`.
fn exists(root: &Path, pattern: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    match pattern.rsplit_once('/') {
        Some((dir, last)) if last.contains('*') => {
            let (head, tail) = last.split_once('*').unwrap();
            std::fs::read_dir(root.join(dir)).is_ok_and(|mut entries| {
                entries.any(|e| {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    name.starts_with(head) && name.ends_with(tail)
                })
            })
        }
        _ => !pattern.contains('*') && root.join(pattern).exists(),
    }
}

/// Every repository path `docs/architecture.md` names in backticks exists: the map is
/// where people look first, and a stale row sends them nowhere.
#[test]
fn the_architecture_document_names_only_paths_that_exist() {
    let root = repository();
    let document = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let tops = [
        "api/",
        "worker/",
        "shared/",
        "tests/",
        "migrations/",
        "deploy/",
        "docs/",
        ".ci/",
    ];
    let named: BTreeSet<&str> = document
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| !quoted.contains(char::is_whitespace))
        .filter(|quoted| {
            tops.iter().any(|top| quoted.starts_with(top))
                || ["Makefile", "README.md", "Cargo.toml"].contains(quoted)
        })
        .collect();
    assert!(named.len() > 50, "{named:?}");
    let missing: Vec<&&str> = named.iter().filter(|p| !exists(&root, p)).collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names paths that do not exist: {missing:?}"
    );
}
