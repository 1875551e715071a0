//! The code's structure, held: the top-level modules of `shared`, the API and the worker
//! import each other without a cycle (read from their `crate::` paths), configuration, the
//! ground floor, imports none of `shared`'s, SQL lives only in the store, and the
//! architecture document names only paths that exist.

mod configuration;
mod error_codes;
mod lengths;
mod platforms;
mod web;

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

/// The Rust files under each of `dirs` (paths from the repository's root).
fn rust_files_under(dirs: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in dirs {
        rust_files(&repository().join(dir), &mut found);
    }
    found
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
    imports("shared/src")
}

/// Each top-level module of the crate whose sources are in `dir`, and the others it
/// imports. The crate's root (`lib.rs`) is a module too, `lib`: a path naming an item of
/// the root (`crate::openapi_service`) imports it, and the root imports each module whose
/// path it names (`middleware::around`); its `mod` lines only declare.
fn imports(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let root = repository().join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let module_of = |file: &Path| {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        first.to_string_lossy().trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(f))
        .filter(|m| m != "main" && m != "bin")
        .collect();
    // An exported macro is named from the root (`crate::enveloped!`) but lives in its module.
    let mut macros = BTreeMap::new();
    for file in &files {
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        for (at, _) in code.match_indices("macro_rules! ") {
            let name: String = code[at + "macro_rules! ".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            macros.insert(name, module_of(file));
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        if module == "main" || module == "bin" {
            continue;
        }
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        let names: BTreeSet<String> = if module == "lib" {
            root_paths(&code, &modules)
        } else {
            crate_modules(&code)
                .into_iter()
                .map(|m| match macros.get(&m) {
                    Some(home) => home.clone(),
                    None if modules.contains(&m) => m,
                    None => "lib".to_owned(),
                })
                .collect()
        };
        graph
            .entry(module.clone())
            .or_default()
            .extend(names.into_iter().filter(|m| *m != module));
    }
    graph
}

/// The modules the crate's root names by path (`name::`, with or without `crate::`).
fn root_paths(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = crate_modules(code);
    for module in modules {
        let named = code.match_indices(&format!("{module}::")).any(|(at, _)| {
            !code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        });
        if named {
            found.insert(module.clone());
        }
    }
    found.retain(|m| modules.contains(m) && m != "lib");
    found
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
fn the_api_s_and_the_worker_s_modules_import_each_other_without_a_cycle() {
    for dir in ["api/src", "worker/src"] {
        let graph = imports(dir);
        assert!(graph.len() > 6, "{dir}: {graph:?}");
        if let Some(cycle) = a_cycle(&graph) {
            panic!(
                "{dir}'s modules import each other in a circle: {}",
                cycle.join(" -> ")
            );
        }
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

/// Every repository path `docs/architecture.md` and the README name in backticks exists:
/// they are the maps people look at first, and a stale row sends them nowhere.
#[test]
fn the_architecture_document_names_only_paths_that_exist() {
    let root = repository();
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
    for (map, least) in [("docs/architecture.md", 50), ("README.md", 5)] {
        let document = std::fs::read_to_string(root.join(map)).unwrap();
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
        assert!(named.len() > least, "{map}: {named:?}");
        let missing: Vec<&&str> = named.iter().filter(|p| !exists(&root, p)).collect();
        assert!(
            missing.is_empty(),
            "{map} names paths that do not exist: {missing:?}"
        );
    }
}

/// The string literals of a piece of Rust code (plain and raw), without their quotes.
fn string_literals(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            // A character literal such as '"' is not the start of a string.
            b'\'' if bytes.get(at + 2) == Some(&b'\'') => at += 3,
            b'\'' if bytes.get(at + 1) == Some(&b'\\') && bytes.get(at + 3) == Some(&b'\'') => {
                at += 4
            }
            b'r' if matches!(bytes.get(at + 1), Some(b'"' | b'#'))
                && (at == 0
                    || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')) =>
            {
                let hashes = bytes[at + 1..].iter().take_while(|b| **b == b'#').count();
                if bytes.get(at + 1 + hashes) != Some(&b'"') {
                    at += 1;
                    continue;
                }
                let start = at + 2 + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = code[start..].find(&close).map_or(code.len(), |e| start + e);
                found.push(code[start..end].to_owned());
                at = end + close.len();
            }
            b'"' => {
                let mut end = at + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                found.push(code[at + 1..end.min(code.len())].to_owned());
                at = end + 1;
            }
            _ => at += 1,
        }
    }
    found
}

/// Whether a string reads as an SQL statement (or a piece of one).
fn is_sql(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    // The code's SQL is written in lower case; prose starts with a capital.
    let lower = !text.contains(char::is_uppercase);
    let select = words.iter().position(|w| w == "select");
    let select_from = select.is_some_and(|s| words[s..].iter().any(|w| w == "from"));
    let update_set =
        words.windows(3).any(|w| w[0] == "update" && w[2] == "set") && text.contains('=');
    (lower && (select_from || text.trim_start().starts_with("select ")))
        || has("insert", "into")
        || has("delete", "from")
        || update_set
        || text.contains("set_config(")
}

/// Every SQL statement of the code lives in `shared/src/store/`: one home per table family,
/// for the API and the worker alike. Outside it no string reads as SQL and nothing calls
/// sqlx's query functions (tests and migrations are exempt).
#[test]
fn sql_lives_only_in_the_store() {
    let root = repository();
    let store = root.join("shared/src/store");
    let files = rust_files_under(&[
        "api/src",
        "worker/src",
        "shared/src",
        "shared/publishing/src",
    ]);
    let calls = [
        "sqlx::query",
        "query_as(",
        "query_scalar(",
        "QueryBuilder",
        ".begin_with(",
    ];
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&store)) {
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        for call in calls.iter().filter(|c| code.contains(*c)) {
            found.push(format!("{name}: calls `{call}`"));
        }
        for literal in string_literals(&code).iter().filter(|l| is_sql(l)) {
            let first = literal.lines().next().unwrap_or_default().trim();
            found.push(format!("{name}: \"{first}\""));
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside shared/src/store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sql_scan_finds_statements_and_passes_prose() {
    let code = r##"let a = "select id from jobs where id = $1"; let b = r#"update jobs set x = 1"#;
        let c = 'x'; let d = "insert into t values (1)"; let e = "Select a channel from the list";
        let f = "delete from t"; let g = "the update will set you free";"##;
    let literals = string_literals(code);
    assert_eq!(literals.len(), 6, "{literals:?}");
    let sql: Vec<&String> = literals.iter().filter(|l| is_sql(l)).collect();
    assert_eq!(
        sql,
        [
            "select id from jobs where id = $1",
            "update jobs set x = 1",
            "insert into t values (1)",
            "delete from t"
        ]
    );
}

/// What builds an HTTP client (or a fetcher, which holds one).
fn builds_a_client(code: &str) -> bool {
    [
        "Client::builder(",
        "Client::new(",
        "ClientBuilder::new(",
        "Fetcher::new(",
    ]
    .iter()
    .any(|call| code.contains(call))
}

/// Publishing is its own crate (`shared/publishing`, `almanac-publishing`) built on
/// almanac-shared: nothing in almanac-shared depends on it or names it.
#[test]
fn almanac_shared_never_depends_on_publishing() {
    let manifest = std::fs::read_to_string(repository().join("shared/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("almanac-publishing"),
        "shared/Cargo.toml"
    );
    let mut files = Vec::new();
    rust_files(&repository().join("shared/src"), &mut files);
    let naming: Vec<String> = files
        .iter()
        .filter(|path| {
            without_comments(&std::fs::read_to_string(path).unwrap()).contains("almanac_publishing")
        })
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    assert!(naming.is_empty(), "{naming:?}");
    let publishing =
        std::fs::read_to_string(repository().join("shared/publishing/Cargo.toml")).unwrap();
    assert!(publishing.contains("almanac-shared.workspace = true"));
}

/// Every platform call goes through one guarded client (issue 73): the registry's
/// (`shared/publishing/src/http.rs`) is the only place under `shared/publishing/src/` that builds
/// one; an adapter that built its own could call an address no guard judged.
#[test]
fn adapters_build_no_http_client_of_their_own() {
    let dir = repository().join("shared/publishing/src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut builders: Vec<String> = files
        .iter()
        .filter(|path| {
            let code = without_comments(&std::fs::read_to_string(path).unwrap());
            // A file's unit tests may build what they test.
            let code = code.split("#[cfg(test)]").next().unwrap_or_default();
            builds_a_client(code)
        })
        .map(|path| {
            path.strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    builders.sort();
    assert_eq!(builders, ["http.rs"], "only the registry's clients");
    assert!(builds_a_client(
        "let c = reqwest::Client::builder().build();"
    ));
    assert!(!builds_a_client("let c = self.http.clone();"));
}

/// Every route that creates jobs goes through `Submit` (`api/src/submit.rs`): nothing else in
/// the API announces or queues a job. The console only queues again jobs that exist (a
/// retry of what ended badly, a resumed queue), which `Submit` does not make.
#[test]
fn every_route_queues_its_jobs_through_submit() {
    let root = repository();
    let mut files = Vec::new();
    rust_files(&root.join("api/src"), &mut files);
    let submit = root.join("api/src/submit.rs");
    let console = root.join("api/src/routes/admin/console.rs");
    let queueing = [
        "enqueue_after_commit",
        "emit_first",
        "queue.push(",
        "push_or_log(",
    ];
    let mut found = Vec::new();
    for file in files.iter().filter(|file| **file != submit) {
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        for call in queueing.iter().filter(|call| code.contains(*call)) {
            if *file == console && *call == "push_or_log(" {
                continue;
            }
            found.push(format!("{name}: `{call}`"));
        }
    }
    assert!(
        found.is_empty(),
        "jobs queued outside api/src/submit.rs: {found:?}"
    );
    // The routes that create jobs each open a submit.
    for (file, submits) in [
        ("api/src/routes/publishing/mod.rs", 2),
        ("api/src/routes/publishing/channels.rs", 1),
        ("api/src/routes/analytics/mod.rs", 1),
        ("api/src/routes/generations/mod.rs", 1),
        ("api/src/routes/calendar_generation/mod.rs", 1),
        ("api/src/routes/calendar_generation/continuation.rs", 1),
        ("api/src/routes/organic/generate.rs", 1),
        ("api/src/routes/themes/mod.rs", 1),
    ] {
        let code = without_comments(&std::fs::read_to_string(root.join(file)).unwrap());
        let opened =
            code.matches("Submit::new(").count() + code.matches("Submit::unlimited(").count();
        assert_eq!(opened, submits, "{file} opens {opened} submits");
    }
}

/// A kind is its files and one registration (`shared/src/jobs/kind.rs`; a `JobKind` has no
/// variants to match on): the API, the worker and the shared crate never name the tests'
/// `probe` kind, and the tests' app registers it on one line, the worker registry's.
#[test]
fn a_job_kind_is_its_files_and_one_registration() {
    let root = repository();
    let mut named = Vec::new();
    for file in rust_files_under(&["api/src", "worker/src", "shared/src"]) {
        let code = without_comments(&std::fs::read_to_string(&file).unwrap());
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        if code.contains("ProbeJob") || code.contains("\"probe\"") {
            named.push(format!("{name} names the probe kind"));
        }
    }
    assert!(named.is_empty(), "{named:?}");
    let helpers = std::fs::read_to_string(root.join("tests/src/helpers/mod.rs")).unwrap();
    let registrations: Vec<&str> = helpers
        .lines()
        .filter(|line| line.contains("ProbeJob"))
        .collect();
    assert_eq!(
        registrations,
        ["            services.registry = services.registry.register::<probe::ProbeJob>();"]
    );
}
