//! Putting generated files on disk, or comparing them with what is there (`--check`).
//!
//! The generator owns the top-level `*.tf.json` files of the output directory, the other files it
//! names (the address ledger), and nothing else, so `.terraform/`, lock files and state are never
//! touched. [`write_file`] and [`check_file`] serve a single file outside it (the README's diagram).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use crate::Files;

/// I/O failures, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The generated files currently in `dir` (top-level `*.tf.json`, and those of `named` that
/// exist), by name.
fn existing(dir: &Path, named: &Files) -> Result<Files, WriteError> {
    let mut files = Files::new();
    if !dir.exists() {
        return Ok(files);
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && (name.ends_with(".tf.json") || named.contains_key(name)) {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            files.insert(name.to_owned(), text);
        }
    }
    Ok(files)
}

/// Writes `files` into `dir`, removes generated files that are no longer produced, and returns
/// the names that changed.
pub fn write(dir: &Path, files: &Files) -> Result<Vec<String>, WriteError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let old = existing(dir, files)?;
    let mut changed = Vec::new();
    for (name, text) in files {
        if old.get(name) != Some(text) {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(&path))?;
            changed.push(name.clone());
        }
    }
    for name in old.keys().filter(|n| !files.contains_key(*n)) {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(io(&path))?;
        changed.push(name.clone());
    }
    Ok(changed)
}

/// Compares `files` with `dir`; returns a unified diff of every stale, missing or extra file,
/// empty when everything is up to date.
pub fn check(dir: &Path, files: &Files) -> Result<String, WriteError> {
    let old = existing(dir, files)?;
    let mut report = String::new();
    let names = old
        .keys()
        .chain(files.keys())
        .collect::<std::collections::BTreeSet<_>>();
    for name in names {
        let before = old.get(name).map_or("", String::as_str);
        let after = files.get(name).map_or("", String::as_str);
        report.push_str(&diff(&dir.join(name), before, after));
    }
    Ok(report)
}

/// A unified diff from the file on disk to the generated text; empty when they are equal.
fn diff(shown: &Path, before: &str, after: &str) -> String {
    let mut report = String::new();
    if before != after {
        let diff = TextDiff::from_lines(before, after);
        let _ = write!(
            report,
            "{}",
            diff.unified_diff().header(
                &format!("{} (on disk)", shown.display()),
                &format!("{} (generated)", shown.display())
            )
        );
    }
    report
}

/// Reads one file (not generated as a whole, e.g. the README).
pub fn read_file(path: &Path) -> Result<String, WriteError> {
    std::fs::read_to_string(path).map_err(io(path))
}

/// Writes one file when its text changed; returns whether it did.
pub fn write_file(path: &Path, text: &str) -> Result<bool, WriteError> {
    if read_file(path)? == text {
        return Ok(false);
    }
    std::fs::write(path, text).map_err(io(path))?;
    Ok(true)
}

/// A diff of one file against the text it should have; empty when it is up to date.
pub fn check_file(path: &Path, text: &str) -> Result<String, WriteError> {
    Ok(diff(path, &read_file(path)?, text))
}

#[cfg(test)]
mod tests {
    use crate::Files;
    use crate::write::{check, write};

    #[test]
    fn check_reports_stale_missing_and_extra_files_and_write_fixes_them() {
        let dir = std::env::temp_dir().join(format!("infra-gen-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("extra.tf.json"), "{}\n").unwrap();
        std::fs::write(dir.join("a.tf.json"), "old\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "not ours\n").unwrap();
        let files = Files::from([
            ("a.tf.json".into(), "new\n".into()),
            ("b.tf.json".into(), "b\n".into()),
        ]);
        let diff = check(&dir, &files).unwrap();
        assert!(diff.contains("-old\n+new"), "{diff}");
        assert!(diff.contains("extra.tf.json (on disk)"), "{diff}");
        assert!(diff.contains("+b"), "{diff}");
        assert_eq!(
            write(&dir, &files).unwrap(),
            ["a.tf.json", "b.tf.json", "extra.tf.json"]
        );
        assert_eq!(check(&dir, &files).unwrap(), "");
        assert!(dir.join("notes.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
