//! A platform is one folder (issue 75): `shared/publishing/src/platforms/<name>/`, its
//! adapter and its fake, listed once in `registry!`; the fakes exist only with the
//! `sandbox` feature.

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
    assert_eq!(names.len(), 7, "{names:?}");
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
