//! How long a function may grow: no Rust function over [`MOST_LINES`] lines in the API's,
//! the worker's, `shared`'s and the tests' sources (tests included), no JavaScript function
//! over it in the web app. A function that long holds several steps a reader would rather
//! see named; the few that may stay long are listed in [`EXCEPTIONS`], each with its reason.
//!
//! The scanners read code the way a reader counts it: a function's lines run from its `fn`
//! (or `function`, or the line its arrow's body opens on) to its closing brace. Strings,
//! comments and (in JavaScript) regular expressions are blanked first, so a brace in a
//! message or a pattern counts for nothing.

use std::path::{Path, PathBuf};

use super::repository;

/// The most lines a function may have.
const MOST_LINES: usize = 120;

/// The functions that may be longer: (file, the function's name or its first line's
/// start, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[(
    "tests/src/contract/strict_input.rs",
    "nul_character_cases",
    "a table of cases, one request per text field the API reads: clearer as one list",
)];

/// A function found: its file, its name (JavaScript: its first line), the line it starts
/// on and how many lines it has.
#[derive(Debug, PartialEq)]
struct Function {
    file: String,
    name: String,
    line: usize,
    lines: usize,
}

/// `source` with the contents of its comments, strings and character literals replaced by
/// spaces (new lines kept, so line numbers hold).
fn blank_rust(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            continue;
        }
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br#"…"#.
        if (c == 'r' || (c == 'b' && next == Some('r'))) && !ident_before {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[start..].iter().take_while(|&&h| h == '#').count();
            if chars.get(start + hashes) == Some(&'"') {
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let body_start = start + hashes + 1;
                let rest: String = chars[body_start..].iter().collect();
                let end = body_start + rest[..rest.find(&close).unwrap()].chars().count();
                for &c in &chars[i..end + close.chars().count()] {
                    blank(&mut out, c);
                }
                i = end + close.chars().count();
                continue;
            }
        }
        if c == '"' {
            out.push(' ');
            i += 1;
            while chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
            out.push(' ');
            i += 1;
            continue;
        }
        // A character literal ('x', '\n', '\u{7f}'), not a lifetime ('a).
        if c == '\'' {
            let literal_end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|at| i + 2 + at)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = literal_end {
                for _ in i..=end {
                    out.push(' ');
                }
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The index of the bracket closing the one at `open`.
fn closing(code: &[u8], open: usize) -> usize {
    let (up, down) = match code[open] {
        b'{' => (b'{', b'}'),
        b'(' => (b'(', b')'),
        _ => (b'[', b']'),
    };
    let mut depth = 0;
    for (at, &c) in code.iter().enumerate().skip(open) {
        if c == up {
            depth += 1;
        } else if c == down {
            depth -= 1;
            if depth == 0 {
                return at;
            }
        }
    }
    panic!("an unclosed bracket at byte {open}")
}

fn line_of(code: &[u8], at: usize) -> usize {
    code[..at].iter().filter(|&&c| c == b'\n').count() + 1
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The byte ranges of a blanked Rust file that hold tests: `#[cfg(test)]` modules and
/// `#[test]` functions.
fn test_ranges(code: &str) -> Vec<(usize, usize)> {
    let bytes = code.as_bytes();
    let mut ranges = Vec::new();
    for marker in ["#[cfg(test)]", "#[test]", "#[tokio::test"] {
        for (at, _) in code.match_indices(marker) {
            let rest = &bytes[at..];
            let Some(open) = rest.iter().position(|&c| c == b'{' || c == b';') else {
                continue;
            };
            if rest[open] == b'{' {
                ranges.push((at, at + closing(rest, open)));
            }
        }
    }
    ranges
}

/// The functions of a Rust file, tests left out.
fn rust_functions(file: &str, source: &str) -> Vec<Function> {
    rust_functions_of(file, source, false)
}

/// The functions of a Rust file, its tests with them when `with_tests`.
fn rust_functions_of(file: &str, source: &str, with_tests: bool) -> Vec<Function> {
    let code = blank_rust(source);
    let bytes = code.as_bytes();
    let tests = match with_tests {
        true => Vec::new(),
        false => test_ranges(&code),
    };
    let mut found = Vec::new();
    for (at, _) in code.match_indices("fn ") {
        if at > 0 && is_ident(bytes[at - 1]) {
            continue;
        }
        if tests.iter().any(|&(from, to)| (from..=to).contains(&at)) {
            continue;
        }
        let name: String = code[at + 3..]
            .trim_start()
            .chars()
            .take_while(|&c| c.is_alphanumeric() || c == '_')
            .collect();
        if name.is_empty() {
            continue; // a function pointer type, `fn(u8) -> u8`
        }
        // The body opens at the first `{` outside the signature's brackets; a `;` first
        // means a declaration without one (a trait's).
        let mut depth = 0i32;
        let mut body = None;
        for (offset, &c) in bytes[at..].iter().enumerate() {
            match c {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b'{' if depth == 0 => {
                    body = Some(at + offset);
                    break;
                }
                b';' if depth == 0 => break,
                _ => {}
            }
        }
        let Some(open) = body else { continue };
        let line = line_of(bytes, at);
        found.push(Function {
            file: file.to_owned(),
            name,
            line,
            lines: line_of(bytes, closing(bytes, open)) - line + 1,
        });
    }
    found
}

/// `source` with the contents of its comments, strings, template literals (their `${…}`
/// kept: it is code) and regular expressions replaced by spaces.
fn blank_js(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    // For each `${` open, the brace depth it opened at.
    let mut templates: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    // In a template literal's text (after a `` ` `` or a `}` closing its `${`).
    let mut in_template = false;
    while i < chars.len() {
        if in_template {
            match chars[i] {
                '\\' => {
                    out.push_str("  ");
                    i += 2;
                }
                '`' => {
                    out.push(' ');
                    i += 1;
                    in_template = false;
                }
                '$' if chars.get(i + 1) == Some(&'{') => {
                    out.push_str(" {");
                    depth += 1;
                    templates.push(depth);
                    i += 2;
                    in_template = false;
                }
                c => {
                    blank(&mut out, c);
                    i += 1;
                }
            }
            continue;
        }
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                while !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                out.push_str("  ");
                i += 2;
            }
            '/' if regex_may_start(&out) => {
                out.push(' ');
                i += 1;
                let mut class = false;
                while class || chars[i] != '/' {
                    match chars[i] {
                        '\\' => {
                            out.push(' ');
                            i += 1;
                        }
                        '[' => class = true,
                        ']' => class = false,
                        _ => {}
                    }
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            '"' | '\'' => {
                out.push(' ');
                i += 1;
                while chars[i] != c {
                    if chars[i] == '\\' {
                        out.push(' ');
                        i += 1;
                    }
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            '`' => {
                out.push(' ');
                i += 1;
                in_template = true;
            }
            '{' => {
                depth += 1;
                out.push(c);
                i += 1;
            }
            '}' => {
                out.push(c);
                i += 1;
                if templates.last() == Some(&depth) {
                    templates.pop();
                    in_template = true;
                }
                depth -= 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Whether a `/` after `before` starts a regular expression rather than dividing.
pub(super) fn regex_may_start(before: &str) -> bool {
    let before = before.trim_end();
    match before.chars().last() {
        None => true,
        Some(c) if "(,=:[!&|?{};+-*%<>~^".contains(c) => true,
        Some(_) => ["return", "typeof", "case", "of", "in"].iter().any(|word| {
            before.ends_with(word)
                && !before[..before.len() - word.len()]
                    .bytes()
                    .last()
                    .is_some_and(is_ident)
        }),
    }
}

/// The functions of a JavaScript module: every brace that opens a function's body
/// (after `=>`, or after the parameters of `function`, of a method, of a getter).
fn js_functions(file: &str, source: &str) -> Vec<Function> {
    let code = blank_js(source);
    let bytes = code.as_bytes();
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (open, _) in code.match_indices('{') {
        let before = code[..open].trim_end();
        let function = if before.ends_with("=>") {
            true
        } else if before.ends_with(')') {
            // What stands before the parameters' `(`: a control keyword or a function.
            let close = before.len() - 1;
            let mut depth = 0;
            let mut params = None;
            for at in (0..=close).rev() {
                match bytes[at] {
                    b')' => depth += 1,
                    b'(' => {
                        depth -= 1;
                        if depth == 0 {
                            params = Some(at);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let head = code[..params.expect("balanced parentheses")].trim_end();
            let word: String = head
                .bytes()
                .rev()
                .take_while(|&c| is_ident(c))
                .map(char::from)
                .collect::<String>()
                .chars()
                .rev()
                .collect();
            !["if", "for", "while", "switch", "catch", "with"].contains(&word.as_str())
        } else {
            false
        };
        if !function {
            continue;
        }
        // The function starts on the line of its head: the line of `function`, of the
        // method's name, or of the arrow's parameters (where the statement starts).
        let start = line_of(bytes, before.rfind('\n').map_or(0, |at| at + 1));
        let end = line_of(bytes, closing(bytes, open));
        found.push(Function {
            file: file.to_owned(),
            name: lines[start - 1].trim().chars().take(60).collect(),
            line: start,
            lines: end - start + 1,
        });
    }
    found
}

fn files(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, extension, found);
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
}

/// Every function of the sources in `dirs` with files ending in `extension`.
fn functions(dirs: &[&str], extension: &str) -> Vec<Function> {
    functions_of(dirs, extension, false)
}

/// The functions of `dirs`' files, their tests with them when `with_tests` (a module of
/// tests in a file of its own too).
fn functions_of(dirs: &[&str], extension: &str, with_tests: bool) -> Vec<Function> {
    let root = repository();
    let mut paths = Vec::new();
    for dir in dirs {
        files(&root.join(dir), extension, &mut paths);
    }
    let mut found = Vec::new();
    for path in paths {
        let file = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // A module of tests in a file of its own (`mod tests;`).
        if file.ends_with("/tests.rs") && !with_tests {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        found.extend(match extension {
            "rs" => rust_functions_of(&file, &source, with_tests),
            _ => js_functions(&file, &source),
        });
    }
    found
}

fn too_long(found: Vec<Function>) -> Vec<String> {
    found
        .into_iter()
        .filter(|f| f.lines > MOST_LINES && !excepted(f))
        .map(|f| format!("{}:{} {} ({} lines)", f.file, f.line, f.name, f.lines))
        .collect()
}

/// Whether `f` is one of the [`EXCEPTIONS`].
fn excepted(f: &Function) -> bool {
    EXCEPTIONS
        .iter()
        .any(|(file, name, _)| f.file == *file && f.name.starts_with(name))
}

#[test]
fn no_rust_function_runs_over_120_lines() {
    let found = functions(
        &[
            "api/src",
            "worker/src",
            "shared/src",
            "shared/publishing/src",
        ],
        "rs",
    );
    assert!(found.len() > 1000, "{} functions", found.len());
    let long = too_long(found);
    assert!(
        long.is_empty(),
        "functions over {MOST_LINES} lines (name their steps, or list the function in \
         EXCEPTIONS with the reason):\n{}",
        long.join("\n")
    );
}

#[test]
fn no_javascript_function_runs_over_120_lines() {
    let found = functions(&["api/web/js"], "js");
    assert!(found.len() > 200, "{} functions", found.len());
    let long = too_long(found);
    assert!(
        long.is_empty(),
        "web app functions over {MOST_LINES} lines (split the view into parts, or list the \
         function in EXCEPTIONS with the reason):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_scanners_count_a_function_s_lines_and_pass_strings_and_tests() {
    let rust = "fn short() {\n    let s = \"}\";\n    let c = '{';\n}\n\
                pub(crate) async fn long<'a>(x: &'a [u8; 4]) -> impl Fn() {\n    \
                let r = r#\"{{\"#;\n    // }\n    move || {\n    }\n}\n\
                trait T { fn declared(&self); }\n\
                #[cfg(test)]\nmod tests {\n    fn helper() {\n    }\n}\n";
    let found = rust_functions("x.rs", rust);
    let summary: Vec<_> = found.iter().map(|f| (f.name.as_str(), f.lines)).collect();
    assert_eq!(summary, [("short", 4), ("long", 6)]);

    let js = "export function a(x) {\n  if (x) {\n    return `}${x.map((y) => {\n      \
              return y;\n    })}`;\n  }\n  const re = /[{]/;\n}\n\
              const b = async (event) => {\n  event.go(\"}\");\n};\n\
              const o = { m() {\n} };\n";
    let found = js_functions("x.js", js);
    let summary: Vec<_> = found.iter().map(|f| (f.line, f.lines)).collect();
    assert_eq!(summary, [(1, 8), (3, 3), (9, 3), (12, 2)]);
}

/// Every Rust function of the tests, the benchmark and the crates' own unit tests holds to
/// [`MOST_LINES`] too, but for the [`EXCEPTIONS`] (a table of cases clearer long).
#[test]
fn no_test_function_runs_over_120_lines() {
    let dirs = [
        "tests/src",
        "api/src",
        "worker/src",
        "shared/src",
        "shared/publishing/src",
    ];
    let found = functions_of(&dirs, "rs", true);
    assert!(found.len() > 3000, "{} functions", found.len());
    let long = too_long(found);
    assert!(
        long.is_empty(),
        "test functions over {MOST_LINES} lines (name their steps, or list a table of cases \
         in EXCEPTIONS with the reason):\n{}",
        long.join("\n")
    );
}
