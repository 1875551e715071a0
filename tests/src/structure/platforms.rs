//! A platform is one folder (issue 75): `shared/publishing/src/platforms/<name>/`, its
//! adapter and its fake, listed once in `registry!`; the fakes exist only with the
//! `sandbox` feature.

use std::sync::LazyLock;

use super::{repository, rust_files, without_comments};

/// The platforms `registry!` lists, in its order.
fn registered() -> Vec<String> {
    let list = std::fs::read_to_string(repository().join("shared/publishing/src/platforms/mod.rs"))
        .unwrap();
    let block = list
        .split("registry! {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("platforms/mod.rs invokes registry!");
    without_comments(block)
        .split(',')
        .map(|name| {
            name.trim()
                .rsplit(' ')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Each listed platform is a folder holding its adapter (its `register!` line: its registry
/// entry, and its fake behind the `sandbox` feature) and its fake; every folder is listed;
/// and the fakes' router is the crate's, behind the feature too, with no fake left in the
/// API.
#[test]
fn each_platform_is_one_folder_with_its_adapter_and_its_fake() {
    let root = repository().join("shared/publishing/src/platforms");
    let names = registered();
    // The seven, and the test-only platform (`testnet`).
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let folder = root.join(name);
        let adapter = std::fs::read_to_string(folder.join("mod.rs")).unwrap();
        assert_eq!(
            adapter.matches("super::register!(PLATFORM, ").count(),
            1,
            "{name}/mod.rs registers itself once"
        );
        assert!(folder.join("fake.rs").is_file(), "{name}/fake.rs");
    }
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.unwrap();
            entry
                .file_type()
                .unwrap()
                .is_dir()
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    folders.sort();
    let mut listed = names.clone();
    listed.sort();
    assert_eq!(folders, listed, "every platform folder is listed once");

    let lib = std::fs::read_to_string(repository().join("shared/publishing/src/lib.rs")).unwrap();
    assert!(lib.contains("#[cfg(feature = \"sandbox\")]\npub mod sandbox;"));
    let list = std::fs::read_to_string(root.join("mod.rs")).unwrap();
    assert!(list.contains("#[cfg(feature = \"sandbox\")]\n        pub mod fake;"));
    // The test-only platform exists only with the feature.
    assert!(list.contains("    #[cfg(feature = \"sandbox\")] testnet,\n"));
    assert!(!repository().join("api/src/sandbox").exists());
    // The API and the worker reach the sandbox only where the feature is on.
    for dir in ["api/src", "worker/src"] {
        let mut files = Vec::new();
        rust_files(&repository().join(dir), &mut files);
        for file in files {
            let code = without_comments(&std::fs::read_to_string(&file).unwrap());
            let lines: Vec<&str> = code.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.contains("almanac_publishing::sandbox") {
                    let gated = lines[..i]
                        .iter()
                        .rev()
                        .take(3)
                        .any(|above| above.contains("#[cfg(feature = \"sandbox\")]"));
                    assert!(
                        gated,
                        "{}:{} is not behind the feature",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

/// The Rust keywords a line keeps when its names are normalised.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while",
];

/// A line as a duplicate finder compares it: its names (identifiers but keywords) replaced
/// by one placeholder, its strings and numbers kept, its white space folded.
fn normalised(line: &str) -> String {
    // Made once: thousands of lines are read, and a debug build compiles a pattern slowly.
    static STRING: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r#""(?:\\.|[^"\\])*""#).unwrap());
    static NAME: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"\b[A-Za-z_][A-Za-z0-9_]*\b").unwrap());
    let (string, name) = (&*STRING, &*NAME);
    let names = |code: &str| {
        name.replace_all(code, |c: &regex::Captures| {
            if KEYWORDS.contains(&&c[0]) {
                c[0].to_owned()
            } else {
                "N".to_owned()
            }
        })
        .into_owned()
    };
    let (mut out, mut last) = (String::new(), 0);
    for literal in string.find_iter(line) {
        out.push_str(&names(&line[last..literal.start()]));
        out.push_str(literal.as_str());
        last = literal.end();
    }
    out.push_str(&names(&line[last..]));
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of a platform's file that a duplicate finder reads (its unit tests, blank
/// lines, comments, lone punctuation and imports passed over), normalised.
fn compared_lines(source: &str) -> Vec<String> {
    let punctuation = regex::Regex::new(r"^[\s{}()\[\];,.]*$").unwrap();
    source
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .map(|line| line.split(" // ").next().unwrap_or_default())
        .filter(|line| !punctuation.is_match(line) && !line.starts_with("use "))
        .map(normalised)
        .collect()
}

/// The runs of `MIN` or more lines two platform folders share (names normalised, as a
/// duplicate finder reads them): each `(file, file, offset)` diagonal on which such a run
/// stands counts once.
fn shared_runs() -> Vec<(String, String, isize)> {
    const MIN: usize = 6;
    let root = repository().join("shared/publishing/src/platforms");
    let mut files = Vec::new();
    for name in registered() {
        let mut found = Vec::new();
        rust_files(&root.join(&name), &mut found);
        for path in found {
            let lines = compared_lines(&std::fs::read_to_string(&path).unwrap());
            let shown = path.strip_prefix(&root).unwrap().display().to_string();
            files.push((name.clone(), shown, lines));
        }
    }
    let mut windows: std::collections::HashMap<&[String], Vec<(usize, usize)>> =
        std::collections::HashMap::new();
    for (f, (_, _, lines)) in files.iter().enumerate() {
        for (at, window) in lines.windows(MIN).enumerate() {
            windows.entry(window).or_default().push((f, at));
        }
    }
    let mut runs = std::collections::BTreeSet::new();
    for places in windows.values() {
        for &(a, at_a) in places {
            for &(b, at_b) in places {
                if files[a].0 < files[b].0 {
                    runs.insert((
                        files[a].1.clone(),
                        files[b].1.clone(),
                        at_a as isize - at_b as isize,
                    ));
                }
            }
        }
    }
    runs.into_iter().collect()
}

/// Two platforms share no code written twice: a run of six or more lines alike but for
/// their names, standing in two platform folders, belongs in what they share (`meta.rs`,
/// `settings.rs`, `oauth.rs`, `http.rs`, the traits' defaults). There were 139 such runs
/// before platforms had folders of their own (issue 75); there are none.
#[test]
fn platform_folders_share_no_run_of_six_lines() {
    let runs = shared_runs();
    assert!(
        runs.is_empty(),
        "{} runs of six or more lines alike stand in two platform folders: {runs:#?}",
        runs.len()
    );
    // Names are what it normalises; strings and numbers stay.
    assert_eq!(
        normalised(r#"let body = json!({ "name": post.title,   "max": 2200 });"#),
        r#"let N = N!({ "name": N.N, "max": 2200 });"#
    );
}
