//! Values in a producer's format (`format`, `true_values` / `false_values`) into PostgreSQL's binary `COPY` form.
//!
//! A column without a declared format goes straight to its type's own check (`types.rs`). With one, the value is
//! read in that format, and a value that does not fit is rejected naming the format, so a user sees which setting
//! to change. Dates and times end as days and microseconds since 2000-01-01, exactly what the type's own path
//! writes for the same instant.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use crate::spec::{Column, ColumnType, TimeFormat};

/// 2000-01-01, PostgreSQL's date and timestamp epoch, as days and microseconds after 1970-01-01.
const PG_EPOCH_DAYS_FROM_UNIX: i64 = 10_957;
const PG_EPOCH_MICROS_FROM_UNIX: i64 = PG_EPOCH_DAYS_FROM_UNIX * MICROS_PER_DAY;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The instants the type's own path accepts: years 1 to 9999, as microseconds since 2000-01-01.
const MIN_MICROS: i64 = -63_082_281_600_000_000;
const MAX_MICROS: i64 = 252_455_615_999_999_999;

/// Checks and encodes one non-NULL value of `column` into `out`; the error says what is wrong in a few words.
pub(crate) fn encode(column: &Column, value: &str, out: &mut BytesMut) -> Result<(), String> {
    if let Some(format) = &column.time_format {
        let micros = read_time(format, value).filter(|m| (MIN_MICROS..=MAX_MICROS).contains(m));
        let micros =
            micros.ok_or_else(|| format!("does not match format {:?}", format.as_str()))?;
        if column.column_type == ColumnType::Date {
            // A date keeps the UTC day of the instant.
            let days = micros.div_euclid(MICROS_PER_DAY);
            out.put_i32(i32::try_from(days).map_err(|_| "is out of range".to_owned())?);
        } else {
            out.put_i64(micros);
        }
        return Ok(());
    }
    if let Some(words) = &column.bool_words {
        if let Some(truth) = words.get(value) {
            out.put_u8(truth.into());
            return Ok(());
        }
        return column.column_type.encode(value, out).map_err(|_| {
            format!(
                "is not a boolean (true_values {:?}, false_values {:?}, or PostgreSQL's words)",
                words.true_values, words.false_values
            )
        });
    }
    column.column_type.encode(value, out).map_err(str::to_owned)
}

/// The instant `value` names in `format`, as microseconds since 2000-01-01 UTC.
fn read_time(format: &TimeFormat, value: &str) -> Option<i64> {
    let unix_micros = match format {
        TimeFormat::EpochSeconds => epoch(value, 6)?,
        TimeFormat::EpochMillis => epoch(value, 3)?,
        TimeFormat::EpochMicros => epoch(value, 0)?,
        TimeFormat::Pattern { pattern, zoned } => {
            if *zoned {
                DateTime::parse_from_str(value, pattern)
                    .ok()?
                    .timestamp_micros()
            } else {
                let naive = NaiveDateTime::parse_from_str(value, pattern)
                    .ok()
                    .or_else(|| {
                        // A date-only pattern (`%d/%m/%Y`) reads midnight.
                        NaiveDate::parse_from_str(value, pattern)
                            .ok()
                            .map(|d| d.and_time(NaiveTime::MIN))
                    })?;
                naive.and_utc().timestamp_micros()
            }
        }
    };
    unix_micros.checked_sub(PG_EPOCH_MICROS_FROM_UNIX)
}

/// An epoch count (`-?digits`, with up to `fraction_digits` after a point) scaled so the fraction becomes whole:
/// seconds with 6 fraction digits come back as microseconds.
fn epoch(value: &str, fraction_digits: u32) -> Option<i64> {
    let (negative, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) if fraction_digits > 0 => (whole, fraction),
        Some(_) => return None,
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if fraction.len() > fraction_digits as usize {
        return None;
    }
    let scale = 10_i64.pow(fraction_digits);
    let mut scaled = whole.parse::<i64>().ok()?.checked_mul(scale)?;
    if !fraction.is_empty() {
        let padding = 10_i64.pow(fraction_digits - u32::try_from(fraction.len()).ok()?);
        scaled = scaled.checked_add(fraction.parse::<i64>().ok()? * padding)?;
    }
    Some(if negative { -scaled } else { scaled })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::BytesMut;

    use crate::spec::{ColumnType, Dataset};
    use crate::transform::format::encode;

    /// Encodes `value` for a column declared as `column_toml`, and the same instant in PostgreSQL's own text form
    /// through the type's own path; both must agree.
    #[track_caller]
    fn same(column_toml: &str, value: &str, own_form: &str) {
        let spec =
            format!("name = \"t\"\ntable = \"t\"\n[[columns]]\nname = \"c\"\n{column_toml}\n");
        let dataset = Dataset::parse(Path::new("t.toml"), &spec).unwrap();
        let column = &dataset.columns[0];
        let (mut got, mut want) = (BytesMut::new(), BytesMut::new());
        encode(column, value, &mut got).unwrap();
        column.column_type.encode(own_form, &mut want).unwrap();
        assert_eq!(got, want, "{value:?} vs {own_form:?}");
    }

    #[track_caller]
    fn refused(column_toml: &str, value: &str) -> String {
        let spec =
            format!("name = \"t\"\ntable = \"t\"\n[[columns]]\nname = \"c\"\n{column_toml}\n");
        let dataset = Dataset::parse(Path::new("t.toml"), &spec).unwrap();
        encode(&dataset.columns[0], value, &mut BytesMut::new()).unwrap_err()
    }

    #[test]
    fn epochs_are_utc_instants() {
        let ts = "type = \"timestamptz\"\nformat = \"epoch_seconds\"";
        same(ts, "0", "1970-01-01 00:00:00Z");
        same(ts, "1700000000", "2023-11-14 22:13:20Z");
        same(ts, "1700000000.25", "2023-11-14 22:13:20.25Z");
        same(ts, "-1.5", "1969-12-31 23:59:58.5Z");
        let ms = "type = \"timestamp\"\nformat = \"epoch_millis\"";
        same(ms, "1700000000123", "2023-11-14 22:13:20.123");
        same(ms, "1700000000123.5", "2023-11-14 22:13:20.1235");
        let us = "type = \"timestamptz\"\nformat = \"epoch_micros\"";
        same(us, "1700000000123456", "2023-11-14 22:13:20.123456Z");
        let day = "type = \"date\"\nformat = \"epoch_seconds\"";
        same(day, "1700000000", "2023-11-14");
        same(day, "-1", "1969-12-31");
        for bad in [
            "",
            "-",
            "1e9",
            "1.2.3",
            "0x10",
            "1.1234567",
            " 1",
            "99999999999999999999",
        ] {
            assert_eq!(
                refused(ts, bad),
                "does not match format \"epoch_seconds\"",
                "{bad:?}"
            );
        }
        assert_eq!(refused(us, "1.5"), "does not match format \"epoch_micros\"");
        // Beyond year 9999, as the type's own path refuses.
        assert!(refused(ts, "253402300800").contains("epoch_seconds"));
    }

    #[test]
    fn strftime_patterns() {
        let dmy = "type = \"date\"\nformat = \"%d/%m/%Y\"";
        same(dmy, "02/12/2026", "2026-12-02");
        same(dmy, "29/02/2024", "2024-02-29");
        assert_eq!(
            refused(dmy, "29/02/2023"),
            "does not match format \"%d/%m/%Y\""
        );
        assert_eq!(
            refused(dmy, "2026-12-02"),
            "does not match format \"%d/%m/%Y\""
        );
        let us = "type = \"timestamp\"\nformat = \"%m/%d/%Y %I:%M %p\"";
        same(us, "12/02/2026 09:30 PM", "2026-12-02 21:30:00");
        let date_only = "type = \"timestamp\"\nformat = \"%d.%m.%Y\"";
        same(date_only, "02.12.2026", "2026-12-02 00:00:00");
        let zoned = "type = \"timestamptz\"\nformat = \"%Y-%m-%dT%H:%M:%S%.f%z\"";
        same(
            zoned,
            "2026-12-02T21:30:00.5+0200",
            "2026-12-02 19:30:00.5Z",
        );
        let utc = "type = \"timestamptz\"\nformat = \"%Y%m%d%H%M%S\"";
        same(utc, "20261202213000", "2026-12-02 21:30:00Z");
    }

    #[test]
    fn bool_words_then_postgres_words() {
        let yes_no =
            "type = \"boolean\"\ntrue_values = [\"Y\", \"oui\"]\nfalse_values = [\"N\", \"non\"]";
        same(yes_no, "oui", "true");
        same(yes_no, "N", "false");
        same(yes_no, "true", "true");
        same(yes_no, "0", "false");
        assert_eq!(
            refused(yes_no, "peut-être"),
            "is not a boolean (true_values [\"Y\", \"oui\"], false_values [\"N\", \"non\"], or PostgreSQL's words)"
        );
    }

    #[test]
    fn without_a_format_the_type_decides() {
        assert_eq!(refused("type = \"integer\"", "x"), "is not an integer");
        assert_eq!(ColumnType::parse("jsonb"), Ok(ColumnType::Jsonb));
    }
}
