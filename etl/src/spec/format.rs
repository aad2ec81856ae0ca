//! Per-column value formats: how producers write values that PostgreSQL's own text forms do not cover.
//!
//! Event SDKs and Firehose write times as epoch seconds or milliseconds, spreadsheets write `dd/mm/yyyy`, and
//! exports write `yes`/`no`. A column may declare `format` (a strftime pattern or an epoch unit) for `date`,
//! `timestamp` and `timestamptz`, `true_values` / `false_values` for `boolean`, and `trim` for any type. They
//! apply after `null_if` and `rules`, so a rule can still clean a value before it is read.

use chrono::format::{Item, StrftimeItems};

use crate::spec::ColumnType;

/// How a `date`, `timestamp` or `timestamptz` column's values are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// A strftime pattern (`%d/%m/%Y`, `%Y-%m-%dT%H:%M:%S%.f%z`, ...), read with chrono. A `timestamptz` pattern
    /// without a zone (`%z`) reads UTC, like the loader's session.
    Pattern {
        /// The pattern as the spec wrote it.
        pattern: String,
        /// Whether the pattern reads a zone offset.
        zoned: bool,
    },
    /// Seconds since 1970-01-01 UTC, optionally with up to 6 fraction digits.
    EpochSeconds,
    /// Milliseconds since 1970-01-01 UTC, optionally with up to 3 fraction digits.
    EpochMillis,
    /// Microseconds since 1970-01-01 UTC.
    EpochMicros,
}

impl TimeFormat {
    /// Validates a column's `format` against its type; the error is one problem for the spec's list.
    pub(crate) fn parse(raw: &str, column_type: ColumnType) -> Result<Self, String> {
        if !matches!(
            column_type,
            ColumnType::Date | ColumnType::Timestamp | ColumnType::TimestampTz
        ) {
            return Err(format!(
                "format applies to date, timestamp and timestamptz columns, not {column_type}"
            ));
        }
        match raw {
            "epoch_seconds" => return Ok(Self::EpochSeconds),
            "epoch_millis" => return Ok(Self::EpochMillis),
            "epoch_micros" => return Ok(Self::EpochMicros),
            _ => {}
        }
        let items: Vec<Item<'_>> = StrftimeItems::new(raw).collect();
        if !raw.contains('%') || items.iter().any(|item| matches!(item, Item::Error)) {
            return Err(format!(
                "format {raw:?} is neither a strftime pattern (%d/%m/%Y, ...) nor epoch_seconds, epoch_millis or \
                 epoch_micros"
            ));
        }
        let zoned = raw.contains("%z") || raw.contains("%:z") || raw.contains("%#z");
        if zoned && column_type != ColumnType::TimestampTz {
            return Err(format!(
                "format {raw:?} reads a zone offset, which only a timestamptz column keeps"
            ));
        }
        Ok(Self::Pattern {
            pattern: raw.to_owned(),
            zoned,
        })
    }

    /// The format as a spec writes it, for reject reasons.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pattern { pattern, .. } => pattern,
            Self::EpochSeconds => "epoch_seconds",
            Self::EpochMillis => "epoch_millis",
            Self::EpochMicros => "epoch_micros",
        }
    }
}

/// The extra words a `boolean` column reads as true or false (checked before PostgreSQL's own words).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoolWords {
    /// Words read as `true`.
    pub true_values: Vec<String>,
    /// Words read as `false`.
    pub false_values: Vec<String>,
}

impl BoolWords {
    /// Validates the lists against the column's type; `None` when neither list is given.
    pub(crate) fn new(
        true_values: &[String],
        false_values: &[String],
        column_type: ColumnType,
    ) -> Result<Option<Self>, String> {
        if true_values.is_empty() && false_values.is_empty() {
            return Ok(None);
        }
        if column_type != ColumnType::Boolean {
            return Err(format!(
                "true_values and false_values apply to boolean columns, not {column_type}"
            ));
        }
        if let Some(both) = true_values.iter().find(|t| false_values.contains(t)) {
            return Err(format!("{both:?} is in both true_values and false_values"));
        }
        Ok(Some(Self {
            true_values: true_values.to_vec(),
            false_values: false_values.to_vec(),
        }))
    }

    /// The listed meaning of `value`, if it is listed.
    pub fn get(&self, value: &str) -> Option<bool> {
        if self.true_values.iter().any(|t| t == value) {
            Some(true)
        } else if self.false_values.iter().any(|f| f == value) {
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::ColumnType;
    use crate::spec::format::{BoolWords, TimeFormat};

    #[test]
    fn formats_are_checked_against_the_column_type() {
        assert_eq!(
            TimeFormat::parse("epoch_millis", ColumnType::TimestampTz),
            Ok(TimeFormat::EpochMillis)
        );
        assert_eq!(
            TimeFormat::parse("%d/%m/%Y", ColumnType::Date),
            Ok(TimeFormat::Pattern {
                pattern: "%d/%m/%Y".to_owned(),
                zoned: false
            })
        );
        let problem = |raw: &str, t: ColumnType| TimeFormat::parse(raw, t).unwrap_err();
        assert_eq!(
            problem("%d/%m/%Y", ColumnType::Integer),
            "format applies to date, timestamp and timestamptz columns, not integer"
        );
        assert!(problem("dd/mm/yyyy", ColumnType::Date).contains("neither a strftime pattern"));
        assert!(problem("%Y-%m-%Q", ColumnType::Date).contains("neither a strftime pattern"));
        assert!(problem("%Y-%m-%d %H:%M%z", ColumnType::Timestamp).contains("only a timestamptz"));
    }

    #[test]
    fn bool_words() {
        let yes_no = |t: &[&str], f: &[&str], c| {
            let own = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
            BoolWords::new(&own(t), &own(f), c)
        };
        let words = yes_no(&["Y", "si"], &["N"], ColumnType::Boolean)
            .unwrap()
            .unwrap();
        assert_eq!(
            (words.get("si"), words.get("N"), words.get("true")),
            (Some(true), Some(false), None)
        );
        assert_eq!(yes_no(&[], &[], ColumnType::Text), Ok(None));
        assert!(yes_no(&["x"], &[], ColumnType::Text).is_err());
        assert_eq!(
            yes_no(&["x"], &["x"], ColumnType::Boolean).unwrap_err(),
            "\"x\" is in both true_values and false_values"
        );
    }
}
