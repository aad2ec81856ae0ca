//! Column types and the per-value checks that keep bad values out of `COPY`.
//!
//! A value that would make PostgreSQL abort the whole `COPY` must be caught here, so it can be rejected as one row
//! (with its line and column) instead of failing the object. The checks accept the canonical forms PostgreSQL
//! accepts; they are deliberately a little stricter (no surrounding whitespace).

use std::fmt;

/// The PostgreSQL types a dataset column may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Varchar(u32),
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    /// `numeric(precision, scale)`; `None` is unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    Boolean,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
}

impl ColumnType {
    /// Parses a type as written in a spec (`bigint`, `numeric(12,2)`, `varchar(40)`, ...).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lower = raw.trim().to_ascii_lowercase();
        let (base, args) = match lower.split_once('(') {
            Some((base, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("unsupported type {raw:?}"))?;
                let args: Result<Vec<u32>, _> =
                    inner.split(',').map(|a| a.trim().parse::<u32>()).collect();
                (
                    base.trim().to_owned(),
                    Some(args.map_err(|_| format!("unsupported type {raw:?}"))?),
                )
            }
            None => (lower.clone(), None),
        };
        let t = match (base.as_str(), args.as_deref()) {
            ("text", None) => Self::Text,
            ("varchar" | "character varying", Some(&[n])) if n > 0 => Self::Varchar(n),
            ("smallint" | "int2", None) => Self::SmallInt,
            ("integer" | "int" | "int4", None) => Self::Integer,
            ("bigint" | "int8", None) => Self::BigInt,
            ("real" | "float4", None) => Self::Real,
            ("double precision" | "float8", None) => Self::Double,
            ("numeric" | "decimal", None) => Self::Numeric(None),
            ("numeric" | "decimal", Some(&[p])) if (1..=1000).contains(&p) => {
                Self::Numeric(Some((p, 0)))
            }
            ("numeric" | "decimal", Some(&[p, s])) if (1..=1000).contains(&p) && s <= p => {
                Self::Numeric(Some((p, s)))
            }
            ("boolean" | "bool", None) => Self::Boolean,
            ("date", None) => Self::Date,
            ("timestamp" | "timestamp without time zone", None) => Self::Timestamp,
            ("timestamptz" | "timestamp with time zone", None) => Self::TimestampTz,
            ("uuid", None) => Self::Uuid,
            _ => return Err(format!("unsupported type {raw:?}")),
        };
        Ok(t)
    }

    /// Checks one non-NULL value; the error says what is wrong in a few words.
    pub fn check(self, value: &str) -> Result<(), &'static str> {
        if value.as_bytes().contains(&0) {
            return Err("contains a NUL byte");
        }
        match self {
            Self::Text => Ok(()),
            Self::Varchar(n) => {
                let fits = value.len() <= n as usize || value.chars().count() <= n as usize;
                fits.then_some(()).ok_or("is longer than the column allows")
            }
            Self::SmallInt => value
                .parse::<i16>()
                .map(drop)
                .map_err(|_| "is not a smallint"),
            Self::Integer => value
                .parse::<i32>()
                .map(drop)
                .map_err(|_| "is not an integer"),
            Self::BigInt => value
                .parse::<i64>()
                .map(drop)
                .map_err(|_| "is not a bigint"),
            Self::Real => check_float(value, f64::from(f32::MAX)).ok_or("is not a real"),
            Self::Double => check_float(value, f64::MAX).ok_or("is not a double precision"),
            Self::Numeric(limits) => check_numeric(value, limits),
            Self::Boolean => {
                const WORDS: [&str; 12] = [
                    "t", "f", "true", "false", "y", "n", "yes", "no", "on", "off", "1", "0",
                ];
                let ok = WORDS.iter().any(|w| w.eq_ignore_ascii_case(value));
                ok.then_some(()).ok_or("is not a boolean")
            }
            Self::Date => parse_date(value.as_bytes())
                .filter(|rest| rest.is_empty())
                .map(drop)
                .ok_or("is not a date (YYYY-MM-DD)"),
            Self::Timestamp => check_timestamp(value.as_bytes(), false).ok_or("is not a timestamp"),
            Self::TimestampTz => {
                check_timestamp(value.as_bytes(), true).ok_or("is not a timestamp")
            }
            Self::Uuid => check_uuid(value.as_bytes()).ok_or("is not a uuid"),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text => f.write_str("text"),
            Self::Varchar(n) => write!(f, "varchar({n})"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Integer => f.write_str("integer"),
            Self::BigInt => f.write_str("bigint"),
            Self::Real => f.write_str("real"),
            Self::Double => f.write_str("double precision"),
            Self::Numeric(None) => f.write_str("numeric"),
            Self::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            Self::Boolean => f.write_str("boolean"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::TimestampTz => f.write_str("timestamptz"),
            Self::Uuid => f.write_str("uuid"),
        }
    }
}

fn check_float(value: &str, max: f64) -> Option<()> {
    let parsed = value.parse::<f64>().ok()?;
    let named = matches!(
        value.to_ascii_lowercase().trim_start_matches(['+', '-']),
        "inf" | "infinity" | "nan"
    );
    (named || parsed.abs() <= max).then_some(())
}

fn check_numeric(value: &str, limits: Option<(u32, u32)>) -> Result<(), &'static str> {
    const BAD: &str = "is not a number";
    if value.eq_ignore_ascii_case("nan") {
        return Ok(());
    }
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(BAD);
    }
    if let Some((precision, scale)) = limits {
        let significant = int.trim_start_matches('0').len();
        // PostgreSQL rounds the fraction to `scale` digits, which can carry into the integer part.
        let carries = frac.len() > scale as usize
            && frac.as_bytes()[scale as usize] >= b'5'
            && int
                .bytes()
                .chain(frac.bytes().take(scale as usize))
                .all(|b| b == b'9');
        if significant + usize::from(carries) > (precision - scale) as usize {
            return Err("is too large for the column's numeric precision");
        }
    }
    Ok(())
}

fn digits(bytes: &[u8], n: usize) -> Option<(u32, &[u8])> {
    if bytes.len() < n || !bytes[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = bytes[..n]
        .iter()
        .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, &bytes[n..]))
}

fn expect(bytes: &[u8], byte: u8) -> Option<&[u8]> {
    bytes
        .split_first()
        .filter(|(b, _)| **b == byte)
        .map(|(_, rest)| rest)
}

/// Parses `YYYY-MM-DD` and returns the rest.
fn parse_date(bytes: &[u8]) -> Option<&[u8]> {
    let (year, rest) = digits(bytes, 4)?;
    let (month, rest) = digits(expect(rest, b'-')?, 2)?;
    let (day, rest) = digits(expect(rest, b'-')?, 2)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1 && (1..=days).contains(&day)).then_some(rest)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|±HH[[:]MM]]`; a zone is only allowed when `zone_ok`.
fn check_timestamp(bytes: &[u8], zone_ok: bool) -> Option<()> {
    let mut rest = parse_date(bytes)?;
    if let Some((b'T' | b' ', time)) = rest.split_first() {
        let (hour, r) = digits(time, 2)?;
        let (minute, mut r) = digits(expect(r, b':')?, 2)?;
        let mut second = 0;
        if let Some(after) = expect(r, b':') {
            (second, r) = digits(after, 2)?;
            if let Some(frac) = expect(r, b'.') {
                let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 {
                    return None;
                }
                r = &frac[n..];
            }
        }
        if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute, second) != (0, 0)) {
            return None;
        }
        rest = r;
    }
    match rest {
        [] => Some(()),
        [b'Z'] if zone_ok => Some(()),
        [b'+' | b'-', zone @ ..] if zone_ok => {
            let (hours, r) = digits(zone, 2)?;
            let r = expect(r, b':').unwrap_or(r);
            let (minutes, r) = if r.is_empty() { (0, r) } else { digits(r, 2)? };
            (r.is_empty() && hours <= 15 && minutes <= 59).then_some(())
        }
        _ => None,
    }
}

fn check_uuid(bytes: &[u8]) -> Option<()> {
    let hex: Vec<u8> = bytes.iter().copied().filter(|b| *b != b'-').collect();
    let dashes_ok = bytes.len() == 32
        || (bytes.len() == 36 && [8, 13, 18, 23].iter().all(|i| bytes[*i] == b'-'));
    (dashes_ok && hex.len() == 32 && hex.iter().all(u8::is_ascii_hexdigit)).then_some(())
}

#[cfg(test)]
mod tests {
    use crate::transform::types::ColumnType;

    #[track_caller]
    fn check(type_name: &str, good: &[&str], bad: &[&str]) {
        let t = ColumnType::parse(type_name).unwrap();
        for value in good {
            assert_eq!(t.check(value), Ok(()), "{type_name}: {value:?} should pass");
        }
        for value in bad {
            assert!(
                t.check(value).is_err(),
                "{type_name}: {value:?} should fail"
            );
        }
    }

    #[test]
    fn integers() {
        check(
            "smallint",
            &["0", "-32768", "+12"],
            &["32768", "1.0", " 1", ""],
        );
        check("integer", &["2147483647"], &["2147483648", "x"]);
        check(
            "bigint",
            &["-9223372036854775808"],
            &["9223372036854775808", "1e3"],
        );
    }

    #[test]
    fn floats_and_numerics() {
        check(
            "double precision",
            &["1.5", "-2e10", "NaN", "-Infinity", ".5"],
            &["1e400", "abc", "1,5"],
        );
        check("real", &["3.4e38"], &["3.5e38"]);
        check(
            "numeric(12,2)",
            &["1234.50", "9999999999.99", "-0.001", "12"],
            &["99999999999", "12.5.0", "."],
        );
        check("numeric(3,2)", &["9.99", "9.994"], &["9.995", "10"]);
        check(
            "numeric",
            &["123456789012345678901234567890.5", "NaN"],
            &["1e5"],
        );
    }

    #[test]
    fn dates_and_timestamps() {
        check(
            "date",
            &["2024-02-29", "2023-12-31"],
            &["2023-02-29", "2024-13-01", "2024-1-1", "2024-01-01Z"],
        );
        check(
            "timestamptz",
            &[
                "2024-03-01T10:00:00Z",
                "2024-03-01 10:00:00.123+02:00",
                "2024-03-01 10:00-0530",
                "2024-03-01",
            ],
            &[
                "2024-02-30T10:00:00Z",
                "2024-03-01T25:00:00Z",
                "2024-03-01T10:00:00.Z",
                "2024-03-01T10",
            ],
        );
        check(
            "timestamp",
            &["2024-03-01 10:00:00.5"],
            &["2024-03-01 10:00:00+02"],
        );
    }

    #[test]
    fn other_types() {
        check("boolean", &["t", "FALSE", "Yes", "0"], &["maybe", ""]);
        check(
            "uuid",
            &[
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
            ],
            &["a0ee-bc99"],
        );
        check("varchar(3)", &["abc", "äöü"], &["abcd"]);
        check("text", &["", "anything"], &["nul\0byte"]);
    }

    #[test]
    fn unsupported_types_are_named() {
        assert_eq!(
            ColumnType::parse("money").unwrap_err(),
            "unsupported type \"money\""
        );
        assert_eq!(
            ColumnType::parse("numeric(12,2)").unwrap().to_string(),
            "numeric(12,2)"
        );
    }
}
