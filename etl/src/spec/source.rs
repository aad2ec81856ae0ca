//! The spec's `[source]` table: what the objects under the prefix are (format, compression) and which of them are
//! data at all.
//!
//! Producers on AWS leave more than data under a prefix: Spark's `_SUCCESS` and `_temporary/`, `.keep` files,
//! READMEs. By default a key with any part below the prefix that starts with `_` or `.` is not data (Hadoop's
//! hidden-file rule); `include` and `exclude` globs narrow it further. An object that is not data is skipped and
//! counted, never failed, so a prefix written by Spark gives a green run.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// The `[source]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `csv` (default), `jsonl` or `parquet`.
    #[serde(default)]
    pub format: Format,
    /// `auto` (default: decided by the object's first bytes), `none`, `gzip` or `zstd`.
    #[serde(default)]
    pub compression: Compression,
    /// Globs on the key below the prefix; when given, only matching objects are data.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs on the key below the prefix; matching objects are not data (checked after `include`).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// How an object's records are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV with the `[csv]` table's dialect.
    #[default]
    Csv,
    /// JSON Lines: one JSON object per line (Kinesis Data Firehose, most event SDKs).
    Jsonl,
    /// Apache Parquet, read by row group through range requests.
    Parquet,
}

/// Whether and how an object's bytes are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Decided by the object's first bytes (gzip and zstd are read, other compressors refused).
    #[default]
    Auto,
    /// Never decompressed, whatever the first bytes are.
    None,
    /// gzip, one member or several (`cat a.gz b.gz`, Firehose).
    Gzip,
    /// Zstandard, one frame or several.
    Zstd,
}

impl Compression {
    /// The spec's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }
}

/// Which keys below the prefix are data.
#[derive(Debug, Clone)]
pub struct Selection {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl Selection {
    /// Compiles the globs; each bad glob is one problem naming it.
    pub(crate) fn new(spec: &SourceSpec, problems: &mut Vec<String>) -> Self {
        let mut compile = |field: &str, globs: &[String]| {
            let mut set = GlobSetBuilder::new();
            for glob in globs {
                match Glob::new(glob) {
                    Ok(glob) => {
                        set.add(glob);
                    }
                    Err(e) => {
                        problems.push(format!("source.{field}: bad glob {glob:?}: {}", e.kind()));
                    }
                }
            }
            set.build().unwrap_or_else(|_| GlobSet::empty())
        };
        let include = (!spec.include.is_empty()).then(|| compile("include", &spec.include));
        let exclude = compile("exclude", &spec.exclude);
        Self { include, exclude }
    }

    /// Why the object at `key` is not data, or `None` when it is. Only the part below `prefix` is looked at.
    pub fn skip_reason(&self, prefix: &str, key: &str) -> Option<&'static str> {
        let key = key
            .strip_prefix(prefix)
            .unwrap_or(key)
            .trim_start_matches('/');
        if key.split('/').any(|part| part.starts_with(['_', '.'])) {
            return Some("not data: a name below the prefix starts with _ or .");
        }
        if self.include.as_ref().is_some_and(|set| !set.is_match(key)) {
            return Some("not data: matches no source.include glob");
        }
        if self.exclude.is_match(key) {
            return Some("not data: matches a source.exclude glob");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::source::{Selection, SourceSpec};

    fn selection(include: &[&str], exclude: &[&str]) -> Selection {
        let spec = SourceSpec {
            include: include.iter().map(|g| (*g).to_owned()).collect(),
            exclude: exclude.iter().map(|g| (*g).to_owned()).collect(),
            ..SourceSpec::default()
        };
        let mut problems = Vec::new();
        let selection = Selection::new(&spec, &mut problems);
        assert_eq!(problems, Vec::<String>::new());
        selection
    }

    #[test]
    fn hidden_names_are_never_data() {
        let all = selection(&[], &[]);
        for key in [
            "_SUCCESS",
            ".keep",
            "_temporary/0/part-0.csv",
            "day=1/.part-0.crc",
            "_committed_1",
        ] {
            assert!(all.skip_reason("", key).is_some(), "{key}");
        }
        for key in ["part-0.csv", "day=1/part-0.csv.gz", "a_b.csv", "x.json"] {
            assert_eq!(all.skip_reason("", key), None, "{key}");
        }
    }

    #[test]
    fn only_the_part_below_the_prefix_counts() {
        let all = selection(&[], &[]);
        assert_eq!(
            all.skip_reason("_staging/events", "_staging/events/a.csv"),
            None
        );
        assert_eq!(
            all.skip_reason("_staging/events/", "_staging/events/a.csv"),
            None
        );
        assert!(
            all.skip_reason("_staging/events", "_staging/events/_SUCCESS")
                .is_some()
        );
    }

    #[test]
    fn include_then_exclude() {
        let json = selection(&["*.json.gz", "**/*.json.gz"], &["**/test-*"]);
        assert_eq!(json.skip_reason("raw", "2026/12/02/a.json.gz"), None);
        assert_eq!(json.skip_reason("raw", "a.json.gz"), None);
        assert_eq!(
            json.skip_reason("raw", "README.md"),
            Some("not data: matches no source.include glob")
        );
        assert_eq!(
            json.skip_reason("raw", "2026/test-a.json.gz"),
            Some("not data: matches a source.exclude glob")
        );
    }

    #[test]
    fn bad_globs_are_problems() {
        let spec = SourceSpec {
            include: vec!["a[".to_owned()],
            ..SourceSpec::default()
        };
        let mut problems = Vec::new();
        Selection::new(&spec, &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("source.include: bad glob \"a[\""),
            "{problems:?}"
        );
    }
}
