//! The transform: pure, synchronous, no I/O. A record (from CSV, JSON Lines or Parquet) goes in, a typed row or a
//! reject reason comes out.
//!
//! Per column, in this order: an unquoted empty field is NULL; a raw value listed in `null_if` becomes NULL; the
//! regex rules run in spec order on what is left (each replaces all matches); `trim` strips surrounding whitespace;
//! the result is read in the column's declared `format` or boolean words (`format.rs`), else checked against the
//! column's type (`types.rs`), which also encodes it in binary `COPY` form straight into the row writer's buffer.
//! Columns without rules pass through without a copy of their text. Rules are compiled once.

mod format;
pub mod types;

use std::borrow::Cow;

use crate::error::ObjectError;
use crate::record::{Record, RowWriter};
use crate::spec::{Column, Dataset, Format};

/// Longest value quoted back in a reject reason.
const MAX_QUOTED_VALUE: usize = 60;

/// A dataset's columns with their compiled rules.
pub struct Transform {
    columns: Vec<Column>,
    /// How a record the source could not read is named in its reject reason.
    malformed: &'static str,
}

impl Transform {
    /// The transform for `dataset`'s columns, with the rules compiled when the spec was loaded.
    pub fn new(dataset: &Dataset) -> Self {
        Self {
            columns: dataset.columns.clone(),
            malformed: match dataset.format {
                Format::Csv => "malformed CSV",
                Format::Jsonl => "malformed JSON line",
                Format::Parquet => "malformed Parquet row",
            },
        }
    }

    /// Checks a header record against the spec's column names (exact, in order).
    pub fn check_header(&self, record: &Record<'_>) -> Result<(), ObjectError> {
        let matches = record.fields.len() == self.columns.len()
            && self
                .columns
                .iter()
                .enumerate()
                .all(|(i, c)| record.field(i).0 == c.name.as_str().as_bytes());
        if matches {
            return Ok(());
        }
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        Err(ObjectError::Header {
            expected: names.join(","),
            found: record.to_csv_line(b','),
        })
    }

    /// Transforms one record into `out`, or says why the row is rejected (nothing is left in `out` then).
    pub fn apply(&self, record: &Record<'_>, out: &mut impl RowWriter) -> Result<(), String> {
        if let Some(error) = record.error {
            return Err(format!("{}: {error}", self.malformed));
        }
        if record.fields.len() != self.columns.len() {
            return Err(format!(
                "expected {} fields, found {}",
                self.columns.len(),
                record.fields.len()
            ));
        }
        // One UTF-8 check for the whole record; a field then is valid if it starts and ends on character
        // boundaries (`str::get`). Only a record that fails is checked field by field, to name the field.
        let text = std::str::from_utf8(record.data).ok();
        out.begin_row();
        for (i, column) in self.columns.iter().enumerate() {
            let f = record.fields[i];
            let field = text
                .and_then(|t| t.get(f.start..f.end))
                .ok_or(&record.data[f.start..f.end]);
            if let Err(reason) = value(column, field, f.quoted, out) {
                out.cancel_row();
                return Err(format!("column {}: {reason}", column.name.as_str()));
            }
        }
        out.end_row();
        Ok(())
    }
}

/// One field (checked UTF-8 text, or bytes still to check) through its column's NULL rules, replacements and type
/// check, into `out`.
fn value(
    column: &Column,
    field: Result<&str, &[u8]>,
    quoted: bool,
    out: &mut impl RowWriter,
) -> Result<(), String> {
    let text = match field {
        Ok(text) => text,
        Err(bytes) => std::str::from_utf8(bytes)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?,
    };
    let null = (text.is_empty() && !quoted) || column.null_if.iter().any(|n| n == text);
    let raw = (!null).then_some(text);
    let Some(text) = raw else {
        return if column.nullable {
            out.null();
            Ok(())
        } else {
            Err("NULL in a NOT NULL column".to_owned())
        };
    };
    let mut value = Cow::Borrowed(text);
    for rule in &column.rules {
        if let Cow::Owned(replaced) = rule.regex.replace_all(&value, rule.replace.as_str()) {
            value = Cow::Owned(replaced);
        }
    }
    if column.trim {
        match value {
            Cow::Borrowed(text) => value = Cow::Borrowed(text.trim()),
            Cow::Owned(text) if text.trim().len() != text.len() => {
                value = Cow::Owned(text.trim().to_owned());
            }
            Cow::Owned(_) => {}
        }
    }
    out.value(|buf| format::encode(column, &value, buf))
        .map_err(|problem| {
            let shown: String = value.chars().take(MAX_QUOTED_VALUE).collect();
            format!("value {shown:?} {problem}")
        })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::BytesMut;

    use crate::record::{Record, RowWriter};
    use crate::source::csv::CsvParser;
    use crate::spec::Dataset;
    use crate::transform::Transform;

    /// Collects rows as vectors of optional binary values.
    #[derive(Default)]
    struct Rows {
        rows: Vec<Vec<Option<Vec<u8>>>>,
        current: Vec<Option<Vec<u8>>>,
    }

    impl RowWriter for Rows {
        fn begin_row(&mut self) {
            self.current.clear();
        }
        fn null(&mut self) {
            self.current.push(None);
        }
        fn value<E>(
            &mut self,
            encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
        ) -> Result<(), E> {
            let mut buf = BytesMut::new();
            encode(&mut buf)?;
            self.current.push(Some(buf.to_vec()));
            Ok(())
        }
        fn end_row(&mut self) {
            self.rows.push(std::mem::take(&mut self.current));
        }
        fn cancel_row(&mut self) {
            self.current.clear();
        }
    }

    /// Runs `csv` (no header) through a spec whose columns are given as TOML, and compares every row's outcome
    /// (expected values are given as text, in the binary form of their column's type).
    #[track_caller]
    fn check(columns_toml: &str, csv: &[u8], expected: &[Result<Vec<Option<&str>>, &str>]) {
        let spec = format!("name = \"t\"\ntable = \"t\"\n[csv]\nheader = false\n{columns_toml}");
        let dataset = Dataset::parse(Path::new("t.toml"), &spec).unwrap();
        let transform = Transform::new(&dataset);
        let mut out = Rows::default();
        let mut got = Vec::new();
        let mut parser = CsvParser::new(b',');
        let mut emit = |record: Record<'_>| {
            let before = out.rows.len();
            let result = transform.apply(&record, &mut out);
            got.push(result.map(|()| out.rows[before].clone()));
            Ok(())
        };
        parser.feed(csv, &mut emit).unwrap();
        parser.finish(&mut emit).unwrap();
        let binary = |i: usize, text: &str| {
            let mut buf = BytesMut::new();
            dataset.columns[i]
                .column_type
                .encode(text, &mut buf)
                .unwrap();
            buf.to_vec()
        };
        let expected: Vec<Result<Vec<Option<Vec<u8>>>, String>> = expected
            .iter()
            .map(|r| match r {
                Ok(row) => Ok(row
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.map(|text| binary(i, text)))
                    .collect()),
                Err(reason) => Err((*reason).to_owned()),
            })
            .collect();
        assert_eq!(got, expected);
    }

    const TEXT_WITH_RULES: &str = r#"
        [[columns]]
        name = "note"
        type = "text"
        rules = [{ pattern = "\\bcolour\\b", replace = "color" }, { pattern = "(?i)\\bGREY\\b", replace = "gray" }]
        [[columns]]
        name = "other"
        type = "text"
    "#;

    #[test]
    fn word_boundaries_and_case_sensitivity() {
        check(
            TEXT_WITH_RULES,
            b"colour colours watercolour Colour,colour\nGrey grey greyhound,x\n",
            &[
                Ok(vec![
                    Some("color colours watercolour Colour"),
                    Some("colour"),
                ]),
                Ok(vec![Some("gray gray greyhound"), Some("x")]),
            ],
        );
    }

    #[test]
    fn null_rules_and_empty_strings() {
        let columns = r#"
            [[columns]]
            name = "country"
            type = "text"
            null_if = ["N/A"]
            rules = [{ pattern = "^N/A$", replace = "never applied" }, { pattern = "^$", replace = "blank" }]
            [[columns]]
            name = "score"
            type = "integer"
            nullable = false
            null_if = ["-"]
        "#;
        check(
            columns,
            b"N/A,1\n,2\n\"\",3\nn/a,-\nUS,\n",
            &[
                Ok(vec![None, Some("1")]),
                Ok(vec![None, Some("2")]),
                Ok(vec![Some("blank"), Some("3")]),
                Err("column score: NULL in a NOT NULL column"),
                Err("column score: NULL in a NOT NULL column"),
            ],
        );
    }

    #[test]
    fn groups_in_replacements_and_type_checks_after_rules() {
        let columns = r#"
            [[columns]]
            name = "amount"
            type = "numeric(8,2)"
            rules = [{ pattern = "[$,]", replace = "" }, { pattern = "^\\((.*)\\)$", replace = "-$1" }]
        "#;
        check(
            columns,
            b"\"$1,234.50\"\n(12.00)\nabc\n",
            &[
                Ok(vec![Some("1234.50")]),
                Ok(vec![Some("-12.00")]),
                Err("column amount: value \"abc\" is not a number"),
            ],
        );
    }

    #[test]
    fn row_level_problems_are_rejects() {
        check(
            TEXT_WITH_RULES,
            b"a,b,c\n\"x\"y,z\nok,\xff\n",
            &[
                Err("expected 2 fields, found 3"),
                Err("malformed CSV: characters after a closing quote"),
                Err("column other: invalid UTF-8 at byte 0"),
            ],
        );
    }
}
