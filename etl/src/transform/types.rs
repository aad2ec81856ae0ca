//! Column types, and the per-value check that also encodes the value in PostgreSQL's binary `COPY` form.
//!
//! A value that would make PostgreSQL abort the whole `COPY` must be caught here, so it can be rejected as one row
//! (with its line and column) instead of failing the object. Checking and encoding are one pass: the parsed value
//! is written straight into the COPY buffer, and PostgreSQL stores it without parsing text again. Every value
//! accepted here is stored exactly as PostgreSQL's own text input would store it (the integration tests load the
//! same rows both ways and compare). The accepted grammar is deliberately a little narrower than PostgreSQL's (no
//! surrounding whitespace, ISO 8601 dates only, years 1 to 9999); `etl/README.md` lists it.

use bytes::{BufMut, BytesMut};

use crate::spec::ColumnType;

/// Days from 0001-01-01 (proleptic Gregorian) to 2000-01-01, PostgreSQL's date and timestamp epoch.
const DAYS_TO_PG_EPOCH: i64 = 730_119;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// PostgreSQL's `NUMERIC_DSCALE_MAX`: the most digits after the point a numeric can display.
const NUMERIC_DSCALE_MAX: usize = 0x3FFF;
/// Numeric sign words of the binary format.
const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// Numerics with at most this many digits are rounded on the stack.
const NUMERIC_STACK_DIGITS: usize = 64;

impl ColumnType {
    /// Checks one non-NULL value and appends its binary `COPY` form (without the length word) to `out`; the error
    /// says what is wrong in a few words, and whatever was appended is then discarded with the row.
    pub fn encode(self, value: &str, out: &mut BytesMut) -> Result<(), &'static str> {
        if memchr::memchr(0, value.as_bytes()).is_some() {
            return Err("contains a NUL byte");
        }
        match self {
            Self::Text => out.put_slice(value.as_bytes()),
            Self::Varchar(n) => out.put_slice(fit_varchar(value, n as usize)?.as_bytes()),
            Self::SmallInt => out.put_i16(value.parse().map_err(|_| "is not a smallint")?),
            Self::Integer => out.put_i32(value.parse().map_err(|_| "is not an integer")?),
            Self::BigInt => out.put_i64(value.parse().map_err(|_| "is not a bigint")?),
            Self::Real => out.put_f32(parse_float(value).ok_or("is not a real")?),
            Self::Double => out.put_f64(parse_float(value).ok_or("is not a double precision")?),
            Self::Numeric(limits) => encode_numeric(value, limits, out)?,
            Self::Boolean => out.put_u8(parse_bool(value).ok_or("is not a boolean")?.into()),
            Self::Date => {
                let days = parse_date(value.as_bytes())
                    .filter(|(_, rest)| rest.is_empty())
                    .ok_or("is not a date (YYYY-MM-DD)")?
                    .0;
                // Years 1 to 9999 keep every date far inside i32.
                out.put_i32(i32::try_from(days).unwrap_or_default());
            }
            Self::Timestamp => {
                out.put_i64(parse_timestamp(value.as_bytes(), false).ok_or("is not a timestamp")?);
            }
            Self::TimestampTz => {
                out.put_i64(parse_timestamp(value.as_bytes(), true).ok_or("is not a timestamp")?);
            }
            Self::Uuid => out.put_u128(parse_uuid(value.as_bytes()).ok_or("is not a uuid")?),
            Self::Jsonb => {
                check_json(value)?;
                // jsonb's binary input: a version byte, then the text, which the server parses as jsonb_in would.
                out.put_u8(1);
                out.put_slice(value.as_bytes());
            }
        }
        Ok(())
    }
}

/// Refuses what `jsonb_in` would refuse, so it is a rejected row instead of a failed COPY: text that is not JSON
/// (`serde_json` also refuses lone surrogates and numbers beyond f64), and `\u0000`, which jsonb cannot store.
fn check_json(value: &str) -> Result<(), &'static str> {
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(members) => members
                .iter()
                .any(|(key, value)| key.contains('\0') || has_nul(value)),
            _ => false,
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|_| "is not JSON")?;
    if has_nul(&parsed) {
        return Err("holds \\u0000, which jsonb cannot store");
    }
    Ok(())
}

/// `varchar(n)` input: at most `n` characters, except that trailing spaces past `n` are cut off (SQL standard).
fn fit_varchar(value: &str, n: usize) -> Result<&str, &'static str> {
    if value.len() <= n {
        return Ok(value);
    }
    match value.char_indices().nth(n) {
        None => Ok(value),
        Some((end, _)) if value.as_bytes()[end..].iter().all(|b| *b == b' ') => Ok(&value[..end]),
        Some(_) => Err("is longer than the column allows"),
    }
}

/// A float as `float4in`/`float8in` read it: correctly rounded, `NaN` and `[+-]Infinity`/`inf` in any case;
/// a finite value that overflows, or a non-zero value that underflows to zero, is out of range.
fn parse_float<F>(value: &str) -> Option<F>
where
    F: std::str::FromStr + Into<f64> + Copy,
{
    let parsed: F = value.parse().ok()?;
    let wide: f64 = parsed.into();
    if wide.is_infinite() {
        let word = value.trim_start_matches(['+', '-']);
        return (word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity"))
            .then_some(parsed);
    }
    if wide == 0.0 {
        let mantissa = value.split(['e', 'E']).next().unwrap_or_default();
        return (!mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'))).then_some(parsed);
    }
    Some(parsed)
}

/// `boolin`: a case-insensitive prefix of `true`/`false`/`yes`/`no`, `on`, `off` (at least `of`), `1` or `0`.
fn parse_bool(value: &str) -> Option<bool> {
    let lower = |word: &str, min: usize| {
        value.len() >= min
            && value.len() <= word.len()
            && word[..value.len()].eq_ignore_ascii_case(value)
    };
    if lower("true", 1) || lower("yes", 1) || lower("on", 2) || value == "1" {
        Some(true)
    } else if lower("false", 1) || lower("no", 1) || lower("off", 2) || value == "0" {
        Some(false)
    } else {
        None
    }
}

/// `numeric_in` with its typmod: `[+-]digits[.digits][e[+-]digits]`, `NaN`, and (unconstrained only)
/// `[+-]Infinity`/`inf`. With `(precision, scale)` the value is rounded half away from zero to `scale` digits and
/// refused when more than `precision - scale` integer digits remain.
fn encode_numeric(
    value: &str,
    limits: Option<(u32, u32)>,
    out: &mut BytesMut,
) -> Result<(), &'static str> {
    const BAD: &str = "is not a number";
    let (negative, unsigned) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let special = |out: &mut BytesMut, sign: u16| {
        out.put_slice(&[0, 0, 0, 0]);
        out.put_u16(sign);
        out.put_u16(0);
    };
    if value.eq_ignore_ascii_case("nan") {
        special(out, NUMERIC_NAN);
        return Ok(());
    }
    if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
        if limits.is_some() {
            return Err("is infinite, which a numeric with a precision cannot hold");
        }
        special(out, if negative { NUMERIC_NINF } else { NUMERIC_PINF });
        return Ok(());
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => {
            let text = &unsigned[at + 1..];
            let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(BAD);
            }
            let magnitude: i64 = digits.parse().map_err(|_| BAD)?;
            (
                &unsigned[..at],
                if text.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                },
            )
        }
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(BAD);
    }
    // digits[0] is a spare zero that takes a rounding carry; it stands at decimal position `top`.
    let count = 1 + int.len() + frac.len();
    let mut stack = [0u8; NUMERIC_STACK_DIGITS];
    let mut heap = Vec::new();
    let digits: &mut [u8] = if count <= NUMERIC_STACK_DIGITS {
        &mut stack[..count]
    } else {
        heap.resize(count, 0);
        &mut heap
    };
    for (slot, b) in digits[1..].iter_mut().zip(int.bytes().chain(frac.bytes())) {
        *slot = b - b'0';
    }
    let top = i64::try_from(int.len()).map_err(|_| BAD)? + exponent;
    // The decimal position of digits[i] (a record, so an index, is below 16 MiB).
    let position = |i: usize| top - i64::try_from(i).unwrap_or_default();
    let frac_len = i64::try_from(frac.len()).map_err(|_| BAD)?;
    let (kept, dscale) = match limits {
        Some((precision, scale)) => {
            let scale = i64::from(scale);
            let kept = usize::try_from((top + scale + 1).max(0))
                .map_err(|_| BAD)?
                .min(count);
            if kept < count && digits[kept] >= 5 {
                for digit in digits[..kept].iter_mut().rev() {
                    if *digit < 9 {
                        *digit += 1;
                        break;
                    }
                    *digit = 0;
                }
            }
            let first = digits[..kept].iter().position(|d| *d != 0);
            let int_digits = first.map_or(0, |i| (position(i) + 1).max(0));
            if int_digits > i64::from(precision) - scale {
                return Err("is too large for the column's numeric precision");
            }
            (kept, scale)
        }
        None => (count, (frac_len - exponent).max(0)),
    };
    let dscale = usize::try_from(dscale).map_err(|_| BAD)?;
    if dscale > NUMERIC_DSCALE_MAX {
        return Err("has more digits after the point than numeric allows");
    }
    let digits = &digits[..kept];
    let (Some(first), Some(last)) = (
        digits.iter().position(|d| *d != 0),
        digits.iter().rposition(|d| *d != 0),
    ) else {
        out.put_slice(&[0, 0, 0, 0]);
        out.put_u16(NUMERIC_POS);
        out.put_u16(u16::try_from(dscale).unwrap_or_default());
        return Ok(());
    };
    // Base-10000 digit g holds decimal positions 4g..4g+3.
    let high = position(first).div_euclid(4);
    let low = position(last).div_euclid(4);
    let weight = i16::try_from(high).map_err(|_| "is too large for numeric")?;
    let ndigits = i16::try_from(high - low + 1).map_err(|_| "is too large for numeric")?;
    out.put_i16(ndigits);
    out.put_i16(weight);
    out.put_u16(if negative { NUMERIC_NEG } else { NUMERIC_POS });
    out.put_u16(u16::try_from(dscale).unwrap_or_default());
    let at = |position: i64| {
        usize::try_from(top - position)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or(0, |d| i16::from(*d))
    };
    for group in (low..=high).rev() {
        let base = group * 4;
        out.put_i16(((at(base + 3) * 10 + at(base + 2)) * 10 + at(base + 1)) * 10 + at(base));
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

/// Parses `YYYY-MM-DD` (years 1 to 9999) into days since 2000-01-01, and returns the rest.
fn parse_date(bytes: &[u8]) -> Option<(i64, &[u8])> {
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
    if year < 1 || !(1..=days).contains(&day) {
        return None;
    }
    // Days since 0001-01-01: whole years, then whole months of this year (March-based, so Feb is last).
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 9)
    } else {
        (i64::from(year), i64::from(month) - 3)
    };
    let since_march_0000 =
        365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + i64::from(day) - 1;
    // 0000-03-01 is 306 days before 0001-01-01.
    Some((since_march_0000 - 306 - DAYS_TO_PG_EPOCH, rest))
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|±HH[[:]MM]]` into microseconds since 2000-01-01 UTC; a zone is only
/// allowed when `zone_ok` (a `timestamptz` without one is UTC, the loader's session time zone). Like `timestamp_in`,
/// fractions are rounded to microseconds, and 24:00:00 and a leap second roll into the next day or minute.
fn parse_timestamp(bytes: &[u8], zone_ok: bool) -> Option<i64> {
    let (days, mut rest) = parse_date(bytes)?;
    let mut micros = days * MICROS_PER_DAY;
    if let Some((b'T' | b' ', time)) = rest.split_first() {
        let (hour, r) = digits(time, 2)?;
        let (minute, mut r) = digits(expect(r, b':')?, 2)?;
        let mut second = 0;
        let mut fraction = 0;
        if let Some(after) = expect(r, b':') {
            (second, r) = digits(after, 2)?;
            if r.first() == Some(&b'.') {
                let n = r[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 {
                    return None;
                }
                // As `ParseFractionalSecond`: the fraction as a double, times 10^6, rounded half to even.
                let text = std::str::from_utf8(&r[..=n]).ok()?;
                let seconds: f64 = text.parse().ok()?;
                #[allow(clippy::cast_possible_truncation)]
                let rounded = (seconds * 1e6).round_ties_even() as i64;
                fraction = rounded;
                r = &r[n + 1..];
            }
        }
        if hour > 24 || minute > 59 || second > 60 {
            return None;
        }
        let time = i64::from((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction;
        if time > MICROS_PER_DAY {
            return None;
        }
        micros += time;
        rest = r;
    }
    let offset_seconds = match rest {
        [] => 0,
        [b'Z'] if zone_ok => 0,
        [sign @ (b'+' | b'-'), zone @ ..] if zone_ok => {
            let (hours, r) = digits(zone, 2)?;
            let r = expect(r, b':').unwrap_or(r);
            let (minutes, r) = if r.is_empty() { (0, r) } else { digits(r, 2)? };
            if !r.is_empty() || hours > 15 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    Some(micros - offset_seconds * 1_000_000)
}

/// `8-4-4-4-12` hex digits with dashes, or 32 without.
fn parse_uuid(bytes: &[u8]) -> Option<u128> {
    let dashes_ok = bytes.len() == 32
        || (bytes.len() == 36 && [8, 13, 18, 23].iter().all(|i| bytes[*i] == b'-'));
    if !dashes_ok {
        return None;
    }
    let mut value = 0u128;
    let mut nibbles = 0;
    for b in bytes.iter().filter(|b| **b != b'-') {
        value = value << 4 | u128::from(char::from(*b).to_digit(16)?);
        nibbles += 1;
    }
    (nibbles == 32).then_some(value)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use crate::spec::ColumnType;

    /// The binary form of `value`, or why it is refused.
    fn encode(type_name: &str, value: &str) -> Result<Vec<u8>, &'static str> {
        let mut out = BytesMut::new();
        ColumnType::parse(type_name)
            .unwrap()
            .encode(value, &mut out)
            .map(|()| out.to_vec())
    }

    #[track_caller]
    fn check(type_name: &str, good: &[&str], bad: &[&str]) {
        for value in good {
            let result = encode(type_name, value);
            assert!(
                result.is_ok(),
                "{type_name}: {value:?} should pass: {result:?}"
            );
        }
        for value in bad {
            let result = encode(type_name, value);
            assert!(result.is_err(), "{type_name}: {value:?} should fail");
        }
    }

    /// A numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits.
    fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(i16::try_from(digits.len()).unwrap().to_be_bytes());
        out.extend(weight.to_be_bytes());
        out.extend(sign.to_be_bytes());
        out.extend(dscale.to_be_bytes());
        for d in digits {
            out.extend(d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numeric_binary_form() {
        let cases: &[(&str, &str, Vec<u8>)] = &[
            ("numeric(12,2)", "1234.5", numeric(0, 0, 2, &[1234, 5000])),
            ("numeric(12,2)", "-0.001", numeric(0, 0, 2, &[])),
            ("numeric(12,2)", "-0.005", numeric(-1, 0x4000, 2, &[100])),
            ("numeric(3,2)", "9.994", numeric(0, 0, 2, &[9, 9900])),
            (
                "numeric",
                "123456789.000100",
                numeric(2, 0, 6, &[1, 2345, 6789, 1]),
            ),
            ("numeric", "1.5e5", numeric(1, 0, 0, &[15])),
            ("numeric", "-12e-6", numeric(-2, 0x4000, 6, &[1200])),
            ("numeric", "-0", numeric(0, 0, 0, &[])),
            ("numeric", "NaN", numeric(0, 0xC000, 0, &[])),
            ("numeric", "-inf", numeric(0, 0xF000, 0, &[])),
            ("numeric(2,0)", "99.4", numeric(0, 0, 0, &[99])),
        ];
        for (type_name, value, expected) in cases {
            assert_eq!(
                encode(type_name, value).as_ref(),
                Ok(expected),
                "{type_name} {value}"
            );
        }
    }

    #[test]
    fn dates_and_times_count_from_2000() {
        let micros =
            |v: &str| i64::from_be_bytes(encode("timestamptz", v).unwrap().try_into().unwrap());
        assert_eq!(encode("date", "2000-01-01"), Ok(vec![0, 0, 0, 0]));
        assert_eq!(
            encode("date", "1999-12-31"),
            Ok((-1i32).to_be_bytes().to_vec())
        );
        assert_eq!(
            encode("date", "0001-01-01"),
            Ok((-730_119i32).to_be_bytes().to_vec())
        );
        assert_eq!(micros("2000-01-01T01:00:00+01:00"), 0);
        assert_eq!(micros("2000-01-01 00:00:00.25-00:30"), 1_800_250_000);
        assert_eq!(micros("1999-12-31 24:00:00Z"), 0);
        assert_eq!(micros("1999-12-31 23:59:60"), 0);
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
            &["99999999999", "12.5.0", ".", "Infinity", "1e", " 1"],
        );
        check("numeric(3,2)", &["9.99", "9.994", "nan"], &["9.995", "10"]);
        check(
            "numeric",
            &[
                "123456789012345678901234567890.5",
                "NaN",
                "1e5",
                "-Infinity",
            ],
            &["1e-20000", "e5", "1e+"],
        );
        check("real", &["1e-45", "-0"], &["1e-46", "1e39"]);
        check(
            "double precision",
            &["4.9e-324", "inf"],
            &["1e-400", "infinite"],
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
                "2024-03-01T24:00:00.5Z",
                "2024-03-01T23:59:60.5Z",
                "2024-03-01T10:00+16",
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
        check(
            "boolean",
            &["t", "FALSE", "Yes", "0", "tr", "of", "N"],
            &["maybe", "", "o", "truer", "00", " t"],
        );
        check(
            "uuid",
            &[
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
            ],
            &["a0ee-bc99", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1-"],
        );
        check("varchar(3)", &["abc", "äöü", "ab   "], &["abcd", "abc d"]);
        assert_eq!(encode("varchar(2)", "é  "), Ok("é ".as_bytes().to_vec()));
        check("text", &["", "anything"], &["nul\0byte"]);
        check(
            "jsonb",
            &[
                "{}",
                "[1, 2.5, \"x\"]",
                "{\"a\": {\"b\": null}}",
                "\"\\u00e9\"",
                "3",
                "true",
            ],
            &[
                "",
                "{",
                "{\"a\": 1,}",
                "\"\\u0000\"",
                "{\"\\ud800\": 1}",
                "1e400",
            ],
        );
        assert_eq!(encode("jsonb", "[1]"), Ok(b"\x01[1]".to_vec()));
    }
}
