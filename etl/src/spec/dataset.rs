//! The dataset spec: a small TOML file that describes one dataset without recompiling.
//!
//! It names the target table, its columns with PostgreSQL types and nullability, the CSV options, and the
//! per-column transform rules. Parsing validates everything up front (column names, types, regexes) so a bad
//! spec fails before any object is touched, with every problem listed at once.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use encoding_rs::{Encoding, UTF_8};
use regex::Regex;
use serde::Deserialize;

use crate::error::SpecError;
use crate::spec::format::{BoolWords, TimeFormat};
use crate::spec::source::{Compression, Format, Selection, SourceSpec};
use crate::spec::types::ColumnType;

/// The column every target table carries: the `etl_objects.id` of the object a row came from.
pub const OBJECT_ID_COLUMN: &str = "etl_object_id";

/// One dataset as written in the spec file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Dataset name: the `Dataset` metric dimension and the ledger's dataset column.
    pub name: String,
    /// Target table (optionally `schema.table`).
    pub table: String,
    /// What the objects are and which of them are data.
    #[serde(default)]
    pub source: SourceSpec,
    /// CSV dialect: delimiter, header, encoding.
    #[serde(default)]
    pub csv: CsvOptions,
    /// The target table's columns, in order.
    pub columns: Vec<ColumnSpec>,
}

/// CSV dialect options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Single-byte field delimiter.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Whether the first record is a header that must equal the column names.
    #[serde(default = "default_header")]
    pub header: bool,
    /// The objects' text encoding, a WHATWG label (`utf-8`, `windows-1252`, `utf-16le`, `shift_jis`, ...). A
    /// byte-order mark at the start of an object overrides it.
    #[serde(default = "default_encoding")]
    pub encoding: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: default_delimiter(),
            header: default_header(),
            encoding: default_encoding(),
        }
    }
}

fn default_delimiter() -> char {
    ','
}

fn default_header() -> bool {
    true
}

fn default_encoding() -> String {
    "utf-8".to_owned()
}

/// One column: a CSV field's position is the column's position in the spec; JSON Lines and Parquet read the
/// member or column of its name (or its `path`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's name in the target table (and in the CSV header, the JSON member or the Parquet column).
    pub name: String,
    /// The PostgreSQL type, as written in SQL (`integer`, `numeric(10,2)`, `timestamptz`, ...).
    #[serde(rename = "type")]
    pub column_type: String,
    /// Whether the column may hold NULL; a NULL in a non-nullable column rejects the row.
    #[serde(default = "default_nullable")]
    pub nullable: bool,
    /// Exact raw values that become NULL (checked before the rules run).
    #[serde(default)]
    pub null_if: Vec<String>,
    /// Regex replacements applied in order to non-NULL values.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// JSON Lines: a JSON pointer (`/user/id`) read instead of the top-level member named like the column.
    #[serde(default)]
    pub path: Option<String>,
    /// How a `date`, `timestamp` or `timestamptz` value is written: a strftime pattern or an epoch unit.
    #[serde(default)]
    pub format: Option<String>,
    /// Extra words a `boolean` column reads as true.
    #[serde(default)]
    pub true_values: Vec<String>,
    /// Extra words a `boolean` column reads as false.
    #[serde(default)]
    pub false_values: Vec<String>,
    /// Strip leading and trailing whitespace (after `null_if` and the rules).
    #[serde(default)]
    pub trim: bool,
}

fn default_nullable() -> bool {
    true
}

/// One regex replacement (`regex` crate syntax; `$1`/`${name}` refer to groups).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The regex to search for.
    pub pattern: String,
    /// The replacement for each match.
    pub replace: String,
}

/// A PostgreSQL identifier, validated so it can be quoted into SQL safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    fn parse(raw: &str) -> Option<Self> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        (first_ok && rest_ok && raw.len() <= 63).then(|| Self(raw.to_owned()))
    }

    /// The identifier, unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// RFC 6901: `/` before every reference token, and `~` only as `~0` or `~1`.
fn is_json_pointer(path: &str) -> bool {
    path.starts_with('/')
        && path
            .split('~')
            .skip(1)
            .all(|after| after.starts_with(['0', '1']))
}

/// A validated dataset: what the rest of the crate works with.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Dataset name: the metric dimension and the ledger's dataset column.
    pub name: String,
    /// The target table's schema; `None`: unqualified, found through the `search_path`.
    pub schema: Option<Ident>,
    /// The target table.
    pub table: Ident,
    /// CSV field delimiter.
    pub delimiter: u8,
    /// Whether the first CSV record is a header to check (never for JSON Lines or Parquet).
    pub header: bool,
    /// The text encoding of CSV and JSON Lines objects, unless a byte-order mark says otherwise.
    pub encoding: &'static Encoding,
    /// What the objects are: CSV, JSON Lines or Parquet.
    pub format: Format,
    /// How the objects are compressed, or `auto` to tell by their first bytes.
    pub compression: Compression,
    /// Which keys below the prefix are data.
    pub selection: Selection,
    /// The target table's columns, in order.
    pub columns: Vec<Column>,
    /// The spec file the dataset was read from.
    pub path: PathBuf,
}

/// A validated column, with its rules compiled once here so the transform never recompiles them.
#[derive(Debug, Clone)]
pub struct Column {
    /// The column's name in the target table.
    pub name: Ident,
    /// The column's PostgreSQL type.
    pub column_type: ColumnType,
    /// Whether the column may hold NULL.
    pub nullable: bool,
    /// Exact raw values that become NULL.
    pub null_if: Vec<String>,
    /// Regex replacements, in spec order.
    pub rules: Vec<Rule>,
    /// JSON Lines: where the value is, as a JSON pointer (`None`: the member named like the column).
    pub path: Option<String>,
    /// Strip leading and trailing whitespace before the value is read.
    pub trim: bool,
    /// How a date or time value is written, when not in PostgreSQL's own form.
    pub time_format: Option<TimeFormat>,
    /// Extra boolean words.
    pub bool_words: Option<BoolWords>,
}

/// A compiled regex replacement.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The compiled pattern.
    pub regex: Regex,
    /// The replacement for each match.
    pub replace: String,
}

impl Dataset {
    /// Reads and validates a spec file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates spec text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SpecError> {
        let spec: DatasetSpec = toml::from_str(text).map_err(|source| SpecError::Toml {
            path: path.to_owned(),
            message: source.to_string().trim_end().replace('\n', " "),
        })?;
        let mut problems = Vec::new();
        if spec.name.is_empty() || spec.name.len() > 255 {
            problems.push("name must be 1 to 255 characters".to_owned());
        }
        let (schema, table) = match spec.table.split_once('.') {
            Some((schema, table)) => (Ident::parse(schema).map(Some), Ident::parse(table)),
            None => (Some(None), Ident::parse(&spec.table)),
        };
        let (schema, table) = if let (Some(schema), Some(table)) = (schema, table) {
            (schema, table)
        } else {
            problems.push(format!(
                "table {:?} is not a lowercase identifier ([a-z_][a-z0-9_]*, optionally schema.table)",
                spec.table
            ));
            (None, Ident("invalid".to_owned()))
        };
        let delimiter = match u8::try_from(spec.csv.delimiter) {
            Ok(d) if d.is_ascii() && !matches!(d, b'"' | b'\n' | b'\r') => d,
            _ => {
                problems.push(format!(
                    "csv.delimiter {:?} must be one ASCII character",
                    spec.csv.delimiter
                ));
                b','
            }
        };
        let encoding = Encoding::for_label_no_replacement(spec.csv.encoding.trim().as_bytes())
            .unwrap_or_else(|| {
                problems.push(format!(
                    "csv.encoding {:?} is not an encoding label (WHATWG: utf-8, windows-1252, iso-8859-15, utf-16le, \
                     shift_jis, ...)",
                    spec.csv.encoding
                ));
                UTF_8
            });
        let selection = Selection::new(&spec.source, &mut problems);
        if spec.columns.is_empty() {
            problems.push("at least one column is required".to_owned());
        }
        let mut seen = BTreeSet::new();
        let mut columns = Vec::with_capacity(spec.columns.len());
        for column in &spec.columns {
            let Some(name) = Ident::parse(&column.name) else {
                problems.push(format!(
                    "column {:?} is not a lowercase identifier",
                    column.name
                ));
                continue;
            };
            if name.as_str() == OBJECT_ID_COLUMN {
                problems.push(format!(
                    "column {:?} is reserved for the ledger",
                    column.name
                ));
            }
            if !seen.insert(column.name.clone()) {
                problems.push(format!("column {:?} appears twice", column.name));
            }
            let column_type = match ColumnType::parse(&column.column_type) {
                Ok(t) => t,
                Err(message) => {
                    problems.push(format!("column {:?}: {message}", column.name));
                    continue;
                }
            };
            let mut rules = Vec::with_capacity(column.rules.len());
            for rule in &column.rules {
                match Regex::new(&rule.pattern) {
                    Ok(regex) => rules.push(Rule {
                        regex,
                        replace: rule.replace.clone(),
                    }),
                    Err(e) => {
                        let first = e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .to_owned();
                        problems.push(format!(
                            "column {:?}: bad pattern {:?}: {first}",
                            column.name, rule.pattern
                        ));
                    }
                }
            }
            let mut problem = |message: String| {
                problems.push(format!("column {:?}: {message}", column.name));
            };
            let time_format = column.format.as_deref().and_then(|raw| {
                TimeFormat::parse(raw, column_type)
                    .map_err(&mut problem)
                    .ok()
            });
            let bool_words = BoolWords::new(&column.true_values, &column.false_values, column_type)
                .map_err(&mut problem)
                .ok()
                .flatten();
            if let Some(path) = &column.path {
                if spec.source.format == Format::Csv {
                    problem(
                        "path applies to jsonl sources (a CSV field is found by position)"
                            .to_owned(),
                    );
                } else if !is_json_pointer(path) {
                    problem(format!(
                        "path {path:?} is not a JSON pointer (/user/id; ~0 is ~ and ~1 is / in a name)"
                    ));
                }
            }
            columns.push(Column {
                name,
                column_type,
                nullable: column.nullable,
                null_if: column.null_if.clone(),
                rules,
                path: column.path.clone(),
                trim: column.trim,
                time_format,
                bool_words,
            });
        }
        if !problems.is_empty() {
            return Err(SpecError::Invalid {
                path: path.to_owned(),
                problems: problems.join("; "),
            });
        }
        Ok(Self {
            name: spec.name,
            schema,
            table,
            delimiter,
            header: spec.csv.header && spec.source.format == Format::Csv,
            encoding,
            format: spec.source.format,
            compression: spec.source.compression,
            selection,
            columns,
            path: path.to_owned(),
        })
    }

    /// The quoted, optionally schema-qualified table name for SQL.
    pub fn qualified_table(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.table),
            None => self.table.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::Dataset;

    #[test]
    fn sample_spec_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/events.toml");
        let dataset = Dataset::load(&path).unwrap();
        assert_eq!(dataset.name, "events");
        assert_eq!(dataset.columns.len(), 10);
        assert_eq!(dataset.qualified_table(), "\"events\"");
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = r#"
            name = "x"
            table = "Bad-Table"
            [csv]
            encoding = "ebcdic"
            [[columns]]
            name = "a"
            type = "complex"
            [[columns]]
            name = "b"
            type = "text"
            rules = [{ pattern = "(", replace = "" }]
            [[columns]]
            name = "b"
            type = "text"
        "#;
        let message = Dataset::parse(Path::new("x.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(message.contains("table \"Bad-Table\""), "{message}");
        assert!(
            message.contains("unsupported type \"complex\""),
            "{message}"
        );
        assert!(message.contains("bad pattern \"(\""), "{message}");
        assert!(message.contains("column \"b\" appears twice"), "{message}");
        assert!(
            message.contains("csv.encoding \"ebcdic\" is not an encoding label"),
            "{message}"
        );
    }

    #[test]
    fn source_and_value_format_problems_are_listed_with_the_others() {
        let text = r#"
            name = "x"
            table = "x"
            [source]
            format = "jsonl"
            include = ["a["]
            [[columns]]
            name = "a"
            type = "integer"
            format = "%d/%m/%Y"
            path = "/a/~2"
            [[columns]]
            name = "b"
            type = "boolean"
            true_values = ["y"]
            false_values = ["y"]
        "#;
        let message = Dataset::parse(Path::new("x.toml"), text)
            .unwrap_err()
            .to_string();
        for part in [
            "source.include: bad glob \"a[\"",
            "column \"a\": format applies to date, timestamp and timestamptz columns, not integer",
            "column \"a\": path \"/a/~2\" is not a JSON pointer",
            "column \"b\": \"y\" is in both true_values and false_values",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        let csv_path = "name = \"x\"\ntable = \"x\"\n[[columns]]\nname = \"a\"\ntype = \"text\"\npath = \"/a\"\n";
        let message = Dataset::parse(Path::new("x.toml"), csv_path)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("path applies to jsonl sources"),
            "{message}"
        );
    }

    #[test]
    fn an_encoding_is_any_whatwg_label() {
        let spec = |label: &str| {
            format!(
                "name = \"x\"\ntable = \"x\"\n[csv]\nencoding = \"{label}\"\n[[columns]]\nname = \"a\"\ntype = \"text\"\n"
            )
        };
        for (label, name) in [
            ("utf-8", "UTF-8"),
            ("latin1", "windows-1252"),
            ("UTF-16", "UTF-16LE"),
            ("sjis", "Shift_JIS"),
        ] {
            let dataset = Dataset::parse(Path::new("x.toml"), &spec(label)).unwrap();
            assert_eq!(dataset.encoding.name(), name, "{label}");
        }
    }
}
