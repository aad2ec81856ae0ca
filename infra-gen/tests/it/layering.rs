//! The layering of `src/lower/`: area files import only the shared modules below them (and
//! `lower/mod.rs`'s `Ctx` and file ids), never another area, so each area can be read and
//! changed alone and `lower/mod.rs` is the one place that wires them in order.

use std::collections::BTreeSet;
use std::path::Path;

/// The modules below the areas, which any area may import. Every other file in `src/lower/`
/// (besides `mod.rs`, the wiring) is an area.
const SHARED: [&str; 5] = [
    // `Ctx`, the file ids and the platform tag.
    "ctx",
    // The handle types areas pass each other.
    "handles",
    // IAM statements, service roles, inline policies, attachments.
    "iam_helpers",
    // Encrypted log groups and customer-managed keys.
    "encrypted",
    // The apply role's policy catalogue, which only delivery attaches.
    "apply",
];

/// The `crate::lower::` or `super::` modules a source names (the first path segment after the
/// prefix, and each segment inside a `{...}` group), with the line they are on.
fn lower_modules(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in source.lines().enumerate() {
        for prefix in ["crate::lower::", "super::"] {
            for (at, _) in line.match_indices(prefix) {
                let rest = &line[at + prefix.len()..];
                let paths: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split(['}', ',']).collect(),
                    None => vec![rest],
                };
                for path in paths {
                    let module: String = path
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if path.trim()[module.len()..].starts_with("::") {
                        found.push((index + 1, module));
                    }
                }
            }
        }
    }
    found
}

/// The files of module `module` in `dir` (`module.rs`, or every file of the folder `module/`),
/// named relative to `dir`, with their text.
fn module_sources(dir: &Path, module: &str) -> Vec<(String, String)> {
    let file = dir.join(format!("{module}.rs"));
    if file.is_file() {
        return vec![(
            format!("{module}.rs"),
            std::fs::read_to_string(file).unwrap(),
        )];
    }
    let mut sources: Vec<(String, String)> = std::fs::read_dir(dir.join(module))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            (
                format!("{module}/{name}"),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    sources.sort();
    sources
}

#[test]
fn no_area_file_imports_another_area_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lower");
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // A module is `x.rs`, or a folder `x/` with a `mod.rs` (its other files are part of it).
        if path.extension().is_some_and(|e| e == "rs") || path.join("mod.rs").is_file() {
            files.insert(path.file_stem().unwrap().to_str().unwrap().to_owned());
        }
    }
    for shared in SHARED {
        assert!(files.contains(shared), "shared module {shared}.rs is gone");
    }
    let areas: BTreeSet<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| *f != "mod" && !SHARED.contains(f))
        .collect();
    assert!(areas.len() >= 10, "{areas:?}");
    let mut violations = Vec::new();
    for file in &files {
        if *file == "mod" {
            continue;
        }
        for (name, source) in module_sources(&dir, file) {
            for (line, module) in lower_modules(&source) {
                if module != *file && areas.contains(module.as_str()) {
                    violations.push(format!(
                        "src/lower/{name}:{line} imports the area crate::lower::{module}"
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_scanner_sees_plain_grouped_and_super_imports() {
    let source = "use crate::lower::iam::allow;\nuse crate::lower::{Ctx, IAM, network::Net};\n\
                  let x = super::storage::lower_key(doc);\nuse crate::lower::{Ctx, IAM};\n";
    assert_eq!(
        lower_modules(source),
        [
            (1, "iam".to_owned()),
            (2, "network".to_owned()),
            (3, "storage".to_owned())
        ]
    );
}
