//! Arrow record batches (decoded Parquet) as the same [`Record`]s the CSV parser produces.
//!
//! The transform checks and encodes text, so each Parquet value is written as the text PostgreSQL's input (and the
//! transform's type check) reads for the column's type: the transform and sink do not change, `null_if` and
//! `rules` keep their meaning, and a value that does not fit (an `int64` past `smallint`, a date in year 10000)
//! is a rejected row with its line, like a CSV value. This runs synchronously, so it can sit on the blocking parse
//! thread; one reused buffer holds a row's text, no allocation per row.
//!
//! Which file types load into which spec types ([`maps`]), checked once per object before any row:
//!
//! | Parquet / Arrow type | spec types | text written |
//! |---|---|---|
//! | INT8/16/32/64, UINT8/16/32/64 | all integers, `numeric`, `real`, `double precision`, text | decimal digits |
//! | FLOAT, DOUBLE | `real`, `double precision`, `numeric`, text | shortest round-trip digits (1) |
//! | DECIMAL(p, s) | `numeric`, text | exact, with its scale (`1.50`, `-0.05`) |
//! | UTF8 (STRING), large and view strings | every type: the transform parses the text | the string, quoted |
//! | BOOLEAN | `boolean`, text | `true` / `false` |
//! | DATE (DATE32, DATE64) | `date`, text | `YYYY-MM-DD` |
//! | TIMESTAMP with `isAdjustedToUTC` (a zone) | `timestamptz`, text | `YYYY-MM-DD HH:MM:SS[.fff[fff[fff]]]+00` |
//! | TIMESTAMP without it (and INT96) | `timestamp`, `timestamptz` (2), text | the same without `+00` |
//! | `FIXED_LEN_BYTE_ARRAY(16)` with the UUID logical type | `uuid`, text | `8-4-4-4-12` lowercase hex |
//! | LIST, STRUCT, MAP (nested) | text (and `jsonb` once it exists) | JSON, see below |
//!
//! (1) `0.1`; exponent form below 1e-5 and from 1e16 (`1e300`); `NaN`, `Infinity`, `-Infinity`, `-0`. (2) Read as
//! UTC, like a zone-less CSV value. A quoted string may be empty (`""` is the empty string, not NULL).
//!
//! A FLOAT into `double precision` is stored as the double nearest its shortest text (`0.1`, not
//! 0.100000001490116), and a DOUBLE into `real` as the real nearest its text: what PostgreSQL's input of the same
//! text stores.
//!
//! "text" is `text` or `varchar(n)`. A column of Arrow's `Null` type (all NULL) fits any spec type. Binary
//! columns (there is no `bytea` spec type), time of day, durations, intervals, and dictionary- or run-encoded
//! arrays do not map and fail the object by name; inside a nested value, binary is hex. (`super::object` has the
//! reader decode a top-level dictionary column, such as a pandas categorical, into plain values first.)
//!
//! Timestamps keep the unit's digits: milliseconds write 3 fraction digits, microseconds 6, nanoseconds 9. The
//! nanosecond digits are not rounded here: the transform reads a fraction exactly as PostgreSQL's `timestamp_in`
//! does (the decimal fraction as a double, times 10^6, rounded half to even), so a nanosecond value is stored
//! exactly as PostgreSQL's text input stores the same text. Checked with psql (PostgreSQL 15): `.000000500` →
//! `.000000`, `.000001500` and `.000002500` → `.000002`, `.123456500` → `.123456`, `.123457500` → `.123458`,
//! `.999999999` rolls into the next second; the test `nanoseconds_round_like_postgresql` holds these. A value
//! outside years 1 to 9999 is written anyway and the transform rejects its row.
//!
//! Nested values are JSON: objects keep the file's field order, map keys become strings, strings are escaped
//! (control characters as `\uXXXX` or their short escapes), NULL is `null`, numbers and decimals are JSON numbers,
//! a non-finite float is the string `"NaN"`/`"Infinity"`/`"-Infinity"` (JSON has no such number), dates and
//! timestamps are strings of the text above, binary values are strings of lowercase hex.
//!
//! A row's line number is its 1-based row index in the file (a Parquet file has no lines); the caller passes the
//! first row's number with each batch.

use std::fmt::Display;
use std::io::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, OffsetSizeTrait, RecordBatch, StringViewArray};
use arrow_schema::{DataType, Field as ArrowField, Schema, TimeUnit};

use crate::error::ObjectError;
use crate::record::{Field, Record};
use crate::spec::ColumnType;

/// The Arrow extension name pyarrow and arrow-rs give a UUID column.
const UUID_EXTENSION: &str = "arrow.uuid";

/// One spec column as the Parquet reader needs it: the top-level field it reads, and the type it loads into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecColumn {
    /// The top-level field read.
    pub name: String,
    /// The SQL type the values load into.
    pub column_type: ColumnType,
}

/// Whether values of the file's type `file` can load into the spec's type `spec`; `uuid` says the file marks a
/// 16-byte column as UUIDs. The table in the module header says the same.
pub fn maps(file: &DataType, uuid: bool, spec: ColumnType) -> bool {
    use ColumnType as C;
    let text = matches!(spec, C::Text | C::Varchar(_));
    match file {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => {
            text || matches!(
                spec,
                C::SmallInt | C::Integer | C::BigInt | C::Numeric(_) | C::Real | C::Double
            )
        }
        DataType::Float32 | DataType::Float64 => {
            text || matches!(spec, C::Real | C::Double | C::Numeric(_))
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => text || matches!(spec, C::Numeric(_)),
        // A string's text goes to the transform, which checks it for any type; a column of only NULLs fits any.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => true,
        DataType::Boolean => text || spec == C::Boolean,
        DataType::Date32 | DataType::Date64 => text || spec == C::Date,
        DataType::Timestamp(_, Some(_)) => text || spec == C::TimestampTz,
        // A local timestamp into `timestamptz` is read as UTC, like a zone-less CSV value (Spark's INT96 timestamps
        // arrive so); an instant into `timestamp` would drop its zone, and is refused like an offset in CSV.
        DataType::Timestamp(_, None) => text || matches!(spec, C::Timestamp | C::TimestampTz),
        DataType::FixedSizeBinary(16) if uuid => text || spec == C::Uuid,
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(..)
        | DataType::Struct(_)
        | DataType::Map(..) => (text || spec == C::Jsonb) && renders(file),
        _ => false,
    }
}

/// Whether the converter can write a value of this type at all (nested types: every leaf too).
fn renders(file: &DataType) -> bool {
    match file {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            renders(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().all(|f| renders(f.data_type())),
        DataType::Map(entries, _) => renders(entries.data_type()),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Boolean
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::FixedSizeBinary(_)
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::Null => true,
        _ => false,
    }
}

/// Whether a top-level field holds UUIDs by its Arrow extension name (the Parquet reader's logical-type check is
/// in `super`).
fn is_uuid_extension(field: &ArrowField) -> bool {
    field
        .metadata()
        .get("ARROW:extension:name")
        .is_some_and(|name| name == UUID_EXTENSION)
}

/// Turns record batches into records; the batches' schema was checked against the spec when this was made.
#[derive(Debug, Clone)]
pub struct RowBatchRecords {
    /// Per spec column, in spec order: its index in the batch and whether it holds UUIDs.
    columns: Vec<(usize, bool)>,
    data: Vec<u8>,
    fields: Vec<Field>,
}

impl RowBatchRecords {
    /// Checks that every spec column is a top-level field of `schema` (the batches' schema) whose type maps onto
    /// the column's type; the first column that does not fails the object with one line naming both types.
    pub fn new(schema: &Schema, columns: &[SpecColumn]) -> Result<Self, ObjectError> {
        Self::with_uuids(schema, columns, &[])
    }

    /// As [`Self::new`], with the names of 16-byte columns the file's own schema marks as UUIDs.
    pub(super) fn with_uuids(
        schema: &Schema,
        columns: &[SpecColumn],
        uuids: &[&str],
    ) -> Result<Self, ObjectError> {
        let mut planned = Vec::with_capacity(columns.len());
        for column in columns {
            let Ok((index, field)) = schema.column_with_name(&column.name).ok_or(()) else {
                let found: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(ObjectError::ParquetMissing {
                    column: column.name.clone(),
                    spec_type: column.column_type.to_string(),
                    found: found.join(", "),
                });
            };
            let uuid = is_uuid_extension(field) || uuids.contains(&field.name().as_str());
            if !maps(field.data_type(), uuid, column.column_type) {
                let file_type = if uuid {
                    "FixedSizeBinary(16) (uuid)".to_owned()
                } else {
                    field.data_type().to_string()
                };
                return Err(ObjectError::ParquetColumn {
                    column: column.name.clone(),
                    file_type,
                    spec_type: column.column_type.to_string(),
                });
            }
            planned.push((index, uuid));
        }
        Ok(Self {
            columns: planned,
            data: Vec::with_capacity(4096),
            fields: Vec::with_capacity(columns.len()),
        })
    }

    /// Calls `emit` with one record per row of `batch`; the first row's line is `first_line` (its 1-based row
    /// index in the file).
    pub fn for_each_record<F>(
        &mut self,
        batch: &RecordBatch,
        first_line: u64,
        emit: &mut F,
    ) -> Result<(), ObjectError>
    where
        F: FnMut(Record<'_>) -> Result<(), ObjectError>,
    {
        let arrays: Vec<Typed<'_>> = self
            .columns
            .iter()
            .map(|(index, uuid)| Typed::of(batch.column(*index).as_ref(), *uuid))
            .collect();
        for (row, line) in (0..batch.num_rows()).zip(first_line..) {
            self.data.clear();
            self.fields.clear();
            for typed in &arrays {
                let start = self.data.len();
                let quoted = typed.write(row, &mut self.data);
                self.fields.push(Field {
                    start,
                    end: self.data.len(),
                    quoted,
                });
            }
            emit(Record {
                line,
                data: &self.data,
                fields: &self.fields,
                error: None,
            })?;
        }
        Ok(())
    }
}

/// One column of a batch, looked at once per batch: a string view column (how the reader decodes every top-level
/// string column) is read directly, anything else through [`write_text`]'s match on its type.
enum Typed<'a> {
    Strings(&'a StringViewArray),
    Other { array: &'a dyn Array, uuid: bool },
}

impl<'a> Typed<'a> {
    fn of(array: &'a dyn Array, uuid: bool) -> Self {
        match array.as_string_view_opt() {
            Some(strings) => Self::Strings(strings),
            None => Self::Other { array, uuid },
        }
    }

    /// Writes the row's text (nothing for NULL); returns whether the field is quoted.
    fn write(&self, row: usize, out: &mut Vec<u8>) -> bool {
        match self {
            Self::Strings(strings) => {
                if strings.is_null(row) {
                    return false;
                }
                out.extend_from_slice(strings.value(row).as_bytes());
                true
            }
            Self::Other { array, uuid } => {
                !array.is_null(row) && write_text(*array, row, *uuid, out)
            }
        }
    }
}

/// Writes a non-NULL value's text; returns whether the field is quoted (a string: empty is not NULL).
fn write_text(array: &dyn Array, row: usize, uuid: bool, out: &mut Vec<u8>) -> bool {
    match array.data_type() {
        DataType::Utf8 => out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => {
            out.extend_from_slice(array.as_string::<i64>().value(row).as_bytes());
        }
        DataType::Utf8View => out.extend_from_slice(array.as_string_view().value(row).as_bytes()),
        DataType::FixedSizeBinary(16) if uuid => {
            write_uuid(array.as_fixed_size_binary().value(row), out);
        }
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(..)
        | DataType::Struct(_)
        | DataType::Map(..) => {
            write_json(array, row, out);
            return false;
        }
        _ => {
            write_scalar(array, row, out);
            return false;
        }
    }
    true
}

/// Writes a non-NULL scalar (number, boolean, date, timestamp, binary as hex) as plain text.
fn write_scalar(array: &dyn Array, row: usize, out: &mut Vec<u8>) {
    match array.data_type() {
        DataType::Boolean => out.extend_from_slice(if array.as_boolean().value(row) {
            b"true"
        } else {
            b"false"
        }),
        DataType::Int8 => write_int(array.as_primitive::<Int8Type>().value(row).into(), out),
        DataType::Int16 => write_int(array.as_primitive::<Int16Type>().value(row).into(), out),
        DataType::Int32 => write_int(array.as_primitive::<Int32Type>().value(row).into(), out),
        DataType::Int64 => write_int(array.as_primitive::<Int64Type>().value(row).into(), out),
        DataType::UInt8 => write_int(array.as_primitive::<UInt8Type>().value(row).into(), out),
        DataType::UInt16 => write_int(array.as_primitive::<UInt16Type>().value(row).into(), out),
        DataType::UInt32 => write_int(array.as_primitive::<UInt32Type>().value(row).into(), out),
        DataType::UInt64 => write_int(array.as_primitive::<UInt64Type>().value(row).into(), out),
        DataType::Float32 => write_float(array.as_primitive::<Float32Type>().value(row), out),
        DataType::Float64 => write_float(array.as_primitive::<Float64Type>().value(row), out),
        DataType::Decimal32(_, scale) => write_decimal(
            array.as_primitive::<Decimal32Type>().value(row).into(),
            *scale,
            out,
        ),
        DataType::Decimal64(_, scale) => write_decimal(
            array.as_primitive::<Decimal64Type>().value(row).into(),
            *scale,
            out,
        ),
        DataType::Decimal128(_, scale) => {
            write_decimal(
                array.as_primitive::<Decimal128Type>().value(row),
                *scale,
                out,
            );
        }
        DataType::Decimal256(_, scale) => {
            let value = array
                .as_primitive::<Decimal256Type>()
                .value(row)
                .to_string();
            write_decimal_digits(&value, *scale, out);
        }
        DataType::Date32 => {
            write_date(array.as_primitive::<Date32Type>().value(row).into(), out);
        }
        DataType::Date64 => {
            let millis = array.as_primitive::<Date64Type>().value(row);
            write_date(millis.div_euclid(86_400_000), out);
        }
        DataType::Timestamp(unit, zone) => {
            let (value, digits) = match unit {
                TimeUnit::Second => (array.as_primitive::<TimestampSecondType>().value(row), 0),
                TimeUnit::Millisecond => (
                    array.as_primitive::<TimestampMillisecondType>().value(row),
                    3,
                ),
                TimeUnit::Microsecond => (
                    array.as_primitive::<TimestampMicrosecondType>().value(row),
                    6,
                ),
                TimeUnit::Nanosecond => (
                    array.as_primitive::<TimestampNanosecondType>().value(row),
                    9,
                ),
            };
            write_timestamp(value, digits, zone.is_some(), out);
        }
        DataType::FixedSizeBinary(_) => write_hex(array.as_fixed_size_binary().value(row), out),
        DataType::Binary => write_hex(array.as_binary::<i32>().value(row), out),
        DataType::LargeBinary => write_hex(array.as_binary::<i64>().value(row), out),
        DataType::BinaryView => write_hex(array.as_binary_view().value(row), out),
        // `maps` lets no other type through; `Null` has no non-NULL value.
        _ => {}
    }
}

/// Writes any value (NULL too) as JSON.
fn write_json(array: &dyn Array, row: usize, out: &mut Vec<u8>) {
    if array.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    match array.data_type() {
        DataType::Utf8 => write_json_string(array.as_string::<i32>().value(row), out),
        DataType::LargeUtf8 => write_json_string(array.as_string::<i64>().value(row), out),
        DataType::Utf8View => write_json_string(array.as_string_view().value(row), out),
        DataType::List(_) => write_json_list(array.as_list::<i32>(), row, out),
        DataType::LargeList(_) => write_json_list(array.as_list::<i64>(), row, out),
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let size = usize::try_from(*size).unwrap_or_default();
            write_json_items(list.values().as_ref(), row * size..(row + 1) * size, out);
        }
        DataType::Struct(fields) => {
            let array = array.as_struct();
            out.push(b'{');
            for (i, (field, column)) in fields.iter().zip(array.columns()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(field.name(), out);
                out.push(b':');
                write_json(column.as_ref(), row, out);
            }
            out.push(b'}');
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let (keys, values) = (map.keys().as_ref(), map.values().as_ref());
            out.push(b'{');
            for (n, i) in (to_index(offsets[row])..to_index(offsets[row + 1])).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                // A key is a string in JSON: a string key as is, any other as its JSON text in quotes.
                let mut key = Vec::new();
                write_json(keys, i, &mut key);
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    write_json_string(&String::from_utf8_lossy(&key), out);
                }
                out.push(b':');
                write_json(values, i, out);
            }
            out.push(b'}');
        }
        DataType::Float32 | DataType::Float64 => {
            let start = out.len();
            write_scalar(array, row, out);
            if !out[start..]
                .iter()
                .all(|b| b.is_ascii_digit() || b"-.e".contains(b))
            {
                let text = String::from_utf8_lossy(&out[start..]).into_owned();
                out.truncate(start);
                write_json_string(&text, out);
            }
        }
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => write_scalar(array, row, out),
        _ => {
            // Dates, timestamps and binary values are strings of their text (which needs no escaping).
            out.push(b'"');
            write_scalar(array, row, out);
            out.push(b'"');
        }
    }
}

fn write_json_list<O: OffsetSizeTrait>(
    list: &arrow_array::GenericListArray<O>,
    row: usize,
    out: &mut Vec<u8>,
) {
    let offsets = list.value_offsets();
    let range = to_index(offsets[row])..to_index(offsets[row + 1]);
    write_json_items(list.values().as_ref(), range, out);
}

fn write_json_items(values: &dyn Array, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (n, i) in range.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_json(values, i, out);
    }
    out.push(b']');
}

/// An Arrow offset (never negative in a valid array) as an index.
fn to_index<O: OffsetSizeTrait>(offset: O) -> usize {
    offset.as_usize()
}

fn write_json_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Decimal digits of an integer, without going through the formatter.
fn write_int(value: i128, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    let mut magnitude = value.unsigned_abs();
    loop {
        at -= 1;
        // The remainder is below 10.
        buf[at] = b'0' + u8::try_from(magnitude % 10).unwrap_or_default();
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// A float's shortest round-trip digits: plain for ordinary magnitudes, exponent form for very small or large ones
/// (plain `1e300` would be 301 digits); PostgreSQL's spellings for the non-finite values.
fn write_float<F>(value: F, out: &mut Vec<u8>)
where
    F: Into<f64> + Copy + Display + std::fmt::LowerExp,
{
    let wide: f64 = value.into();
    let _ = if wide.is_nan() {
        write!(out, "NaN")
    } else if wide.is_infinite() {
        write!(out, "{}", if wide > 0.0 { "Infinity" } else { "-Infinity" })
    } else if wide == 0.0 || (1e-5..1e16).contains(&wide.abs()) {
        write!(out, "{value}")
    } else {
        write!(out, "{value:e}")
    };
}

/// An unscaled decimal with `scale` digits after the point, exactly (`150`, 2 → `1.50`).
fn write_decimal(value: i128, scale: i8, out: &mut Vec<u8>) {
    let mut digits = Vec::with_capacity(40);
    write_int(value, &mut digits);
    write_decimal_digits(&String::from_utf8_lossy(&digits), scale, out);
}

/// `digits` is an optionally negative integer's text.
fn write_decimal_digits(digits: &str, scale: i8, out: &mut Vec<u8>) {
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, digits),
    };
    if negative {
        out.push(b'-');
    }
    let scale_digits = usize::from(scale.unsigned_abs());
    if scale <= 0 {
        out.extend_from_slice(magnitude.as_bytes());
        if magnitude != "0" {
            out.resize(out.len() + scale_digits, b'0');
        }
        return;
    }
    if magnitude.len() > scale_digits {
        let (int, frac) = magnitude.split_at(magnitude.len() - scale_digits);
        out.extend_from_slice(int.as_bytes());
        out.push(b'.');
        out.extend_from_slice(frac.as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale_digits - magnitude.len(), b'0');
        out.extend_from_slice(magnitude.as_bytes());
    }
}

/// Two decimal digits of a value below 100.
fn write_2(value: i64, out: &mut Vec<u8>) {
    let value = u8::try_from(value).unwrap_or_default();
    out.extend_from_slice(&[b'0' + value / 10, b'0' + value % 10]);
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian; Howard Hinnant's `civil_from_days`).
fn write_date(days: i64, out: &mut Vec<u8>) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if (0..10_000).contains(&year) {
        write_2(year / 100, out);
        write_2(year % 100, out);
    } else {
        let _ = write!(out, "{year:04}");
    }
    out.push(b'-');
    write_2(month, out);
    out.push(b'-');
    write_2(day, out);
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` of `value` units since the Unix epoch, with `digits` fraction digits (the
/// unit's: 0, 3, 6 or 9), and `+00` for an instant (a time zone in the file).
fn write_timestamp(value: i64, digits: u32, utc: bool, out: &mut Vec<u8>) {
    let per_second = 10i64.pow(digits);
    let seconds = value.div_euclid(per_second);
    let fraction = value.rem_euclid(per_second);
    write_date(seconds.div_euclid(86_400), out);
    let time = seconds.rem_euclid(86_400);
    out.push(b' ');
    write_2(time / 3600, out);
    out.push(b':');
    write_2(time / 60 % 60, out);
    out.push(b':');
    write_2(time % 60, out);
    if digits > 0 {
        out.push(b'.');
        let start = out.len();
        write_int(fraction.into(), out);
        // Left-pad the fraction to the unit's digit count.
        let written = out.len() - start;
        let pad = usize::try_from(digits).unwrap_or_default() - written;
        out.splice(start..start, std::iter::repeat_n(b'0', pad));
    }
    if utc {
        out.extend_from_slice(b"+00");
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_hex(bytes: &[u8], out: &mut Vec<u8>) {
    for b in bytes {
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

fn write_uuid(bytes: &[u8], out: &mut Vec<u8>) {
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int32Builder, ListBuilder, MapBuilder, StringBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array,
        Decimal256Array, DictionaryArray, FixedSizeBinaryArray, Float32Array, Float64Array,
        Int8Array, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
        StructArray, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
    };
    use arrow_schema::{DataType, Field, Schema};
    use bytes::BytesMut;

    use crate::error::ObjectError;
    use crate::record::Record;
    use crate::source::parquet::convert::{RowBatchRecords, SpecColumn};
    use crate::spec::ColumnType;

    fn spec(columns: &[(&str, &str)]) -> Vec<SpecColumn> {
        columns
            .iter()
            .map(|(name, t)| SpecColumn {
                name: (*name).to_owned(),
                column_type: ColumnType::parse(t).unwrap(),
            })
            .collect()
    }

    /// Every record of `batch` as (line, fields with `None` for NULL), after checking each non-NULL value passes
    /// its spec type's check (the transform's).
    fn convert(batch: &RecordBatch, columns: &[SpecColumn]) -> Vec<(u64, Vec<Option<String>>)> {
        let mut records = RowBatchRecords::new(&batch.schema(), columns).unwrap();
        let mut got = Vec::new();
        let mut emit = |r: Record<'_>| {
            let fields: Vec<Option<String>> = (0..r.fields.len())
                .map(|i| {
                    let (bytes, quoted) = r.field(i);
                    (quoted || !bytes.is_empty())
                        .then(|| String::from_utf8(bytes.to_vec()).unwrap())
                })
                .collect();
            for (value, column) in fields.iter().zip(columns) {
                if let Some(value) = value {
                    let mut out = BytesMut::new();
                    let checked = column.column_type.encode(value, &mut out);
                    assert!(
                        checked.is_ok(),
                        "{value:?} as {}: {checked:?}",
                        column.column_type
                    );
                }
            }
            got.push((r.line, fields));
            Ok(())
        };
        records.for_each_record(batch, 11, &mut emit).unwrap();
        got
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn text(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn scalars_render_as_their_types_accept_them() {
        let uuid = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            [
                Some([
                    0xa0u8, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd,
                    0x38, 0x0a, 0x11,
                ]),
                None,
            ]
            .into_iter(),
            16,
        )
        .unwrap();
        let uuid_field = Field::new("u", DataType::FixedSizeBinary(16), true)
            .with_metadata([("ARROW:extension:name", "arrow.uuid")]);
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("i8", Arc::new(Int8Array::from(vec![Some(-128), None]))),
            ("i64", Arc::new(Int64Array::from(vec![i64::MIN, 0]))),
            ("u64", Arc::new(UInt64Array::from(vec![u64::MAX, 7]))),
            ("f32", Arc::new(Float32Array::from(vec![0.1, f32::NAN]))),
            ("f64", Arc::new(Float64Array::from(vec![1e300, -0.0]))),
            (
                "f64b",
                Arc::new(Float64Array::from(vec![f64::NEG_INFINITY, 1.5e-7])),
            ),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from(vec![Some(150), Some(-5)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "dec0",
                Arc::new(
                    Decimal128Array::from(vec![Some(12), Some(0)])
                        .with_precision_and_scale(10, -2)
                        .unwrap(),
                ),
            ),
            (
                "dec256",
                Arc::new(
                    Decimal256Array::from(vec![
                        Some(arrow_buffer_i256(-123_456)),
                        Some(arrow_buffer_i256(7)),
                    ])
                    .with_precision_and_scale(40, 4)
                    .unwrap(),
                ),
            ),
            ("s", Arc::new(StringArray::from(vec![Some(""), None]))),
            ("ls", Arc::new(LargeStringArray::from(vec!["é\"x", "42"]))),
            (
                "sv",
                Arc::new(StringViewArray::from(vec![
                    Some("longer than twelve bytes"),
                    None,
                ])),
            ),
            ("sv2", Arc::new(StringViewArray::from(vec!["", "short"]))),
            (
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
            ),
            ("d", Arc::new(Date32Array::from(vec![0, -719_162]))),
            (
                "d64",
                Arc::new(Date64Array::from(vec![-1, 951_782_400_000])),
            ),
        ];
        let mut fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let mut arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, a)| a).collect();
        fields.push(uuid_field);
        arrays.push(Arc::new(uuid));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let columns = spec(&[
            ("i8", "smallint"),
            ("i64", "bigint"),
            ("u64", "numeric"),
            ("f32", "real"),
            ("f64", "double precision"),
            ("f64b", "double precision"),
            ("dec", "numeric(10,2)"),
            ("dec0", "numeric"),
            ("dec256", "numeric"),
            ("s", "text"),
            ("ls", "varchar(4)"),
            ("sv", "text"),
            ("sv2", "text"),
            ("b", "boolean"),
            ("d", "date"),
            ("d64", "date"),
            ("u", "uuid"),
        ]);
        assert_eq!(
            convert(&batch, &columns),
            vec![
                (
                    11,
                    text(&[
                        Some("-128"),
                        Some("-9223372036854775808"),
                        Some("18446744073709551615"),
                        Some("0.1"),
                        Some("1e300"),
                        Some("-Infinity"),
                        Some("1.50"),
                        Some("1200"),
                        Some("-12.3456"),
                        Some(""),
                        Some("é\"x"),
                        Some("longer than twelve bytes"),
                        Some(""),
                        Some("true"),
                        Some("1970-01-01"),
                        Some("1969-12-31"),
                        Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    ])
                ),
                (
                    12,
                    text(&[
                        None,
                        Some("0"),
                        Some("7"),
                        Some("NaN"),
                        Some("-0"),
                        Some("1.5e-7"),
                        Some("-0.05"),
                        Some("0"),
                        Some("0.0007"),
                        None,
                        Some("42"),
                        None,
                        Some("short"),
                        Some("false"),
                        Some("0001-01-01"),
                        Some("2000-02-29"),
                        None,
                    ])
                ),
            ]
        );
    }

    fn arrow_buffer_i256(
        value: i128,
    ) -> <arrow_array::types::Decimal256Type as arrow_array::types::ArrowPrimitiveType>::Native
    {
        <arrow_array::types::Decimal256Type as arrow_array::types::ArrowPrimitiveType>::Native::from_i128(value)
    }

    #[test]
    fn timestamps_keep_their_unit_and_zone() {
        let utc: Option<Arc<str>> = Some("UTC".into());
        let batch = batch(vec![
            (
                "s",
                Arc::new(TimestampSecondArray::from(vec![0, -1])) as ArrayRef,
            ),
            (
                "ms",
                Arc::new(TimestampMillisecondArray::from(vec![1_709_287_200_123, -1])),
            ),
            (
                "us",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        1_709_287_200_000_001,
                        951_868_800_000_000,
                    ])
                    .with_timezone_opt(utc.clone()),
                ),
            ),
            (
                "ns",
                Arc::new(TimestampNanosecondArray::from(vec![500, 1_500]).with_timezone_opt(utc)),
            ),
        ]);
        let columns = spec(&[
            ("s", "timestamp"),
            ("ms", "timestamp"),
            ("us", "timestamptz"),
            ("ns", "timestamptz"),
        ]);
        assert_eq!(
            convert(&batch, &columns),
            vec![
                (
                    11,
                    text(&[
                        Some("1970-01-01 00:00:00"),
                        Some("2024-03-01 10:00:00.123"),
                        Some("2024-03-01 10:00:00.000001+00"),
                        Some("1970-01-01 00:00:00.000000500+00"),
                    ])
                ),
                (
                    12,
                    text(&[
                        Some("1969-12-31 23:59:59"),
                        Some("1969-12-31 23:59:59.999"),
                        Some("2000-03-01 00:00:00.000000+00"),
                        Some("1970-01-01 00:00:00.000001500+00"),
                    ])
                ),
            ]
        );
    }

    /// Nanosecond timestamps through the transform's check, against what psql stored for the same instants
    /// (`SELECT '1970-01-01 00:00:00.000000500+00'::timestamptz`, ...), in microseconds since 2000-01-01.
    #[test]
    fn nanoseconds_round_like_postgresql() {
        /// 1970-01-01 in PostgreSQL's microseconds since 2000-01-01.
        const UNIX_EPOCH: i64 = -946_684_800_000_000;
        /// 2024-03-01 10:00:00 in microseconds since 1970.
        const AT: i64 = 1_709_287_200_000_000;
        // (nanoseconds since 1970, microseconds since 1970 as PostgreSQL stored the text)
        let cases: [(i64, i64); 7] = [
            (500, 0),
            (1_500, 2),
            (2_500, 2),
            (1_709_287_200_123_456_500, AT + 123_456),
            (1_709_287_200_123_457_500, AT + 123_458),
            (1_709_287_200_999_999_999, AT + 1_000_000),
            (-500, 0),
        ];
        let nanos: Vec<i64> = cases.iter().map(|(n, _)| *n).collect();
        let batch = batch(vec![(
            "ns",
            Arc::new(TimestampNanosecondArray::from(nanos)) as ArrayRef,
        )]);
        let columns = spec(&[("ns", "timestamp")]);
        let got = convert(&batch, &columns);
        for ((_, fields), (nanos, expected)) in got.iter().zip(cases) {
            let text = fields[0].as_deref().unwrap();
            let mut out = BytesMut::new();
            ColumnType::Timestamp.encode(text, &mut out).unwrap();
            let micros = i64::from_be_bytes(out[..].try_into().unwrap());
            assert_eq!(micros, UNIX_EPOCH + expected, "{nanos} ns: {text}");
        }
    }

    #[test]
    fn nested_values_are_json() {
        let mut list = ListBuilder::new(Int32Builder::new());
        list.values().append_value(1);
        list.values().append_null();
        list.append(true);
        list.append(false);
        let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
        map.keys().append_value("k\"1");
        map.values().append_value(5);
        map.append(true).unwrap();
        map.append(true).unwrap();
        let inner = StructArray::from(vec![
            (
                Arc::new(Field::new("name", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("a\nb\u{1}"), None])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("score", DataType::Float64, true)),
                Arc::new(Float64Array::from(vec![f64::NAN, 2.5])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("day", DataType::Date32, true)),
                Arc::new(Date32Array::from(vec![19_000, 0])) as ArrayRef,
            ),
        ]);
        let batch = batch(vec![
            ("list", Arc::new(list.finish()) as ArrayRef),
            ("map", Arc::new(map.finish())),
            ("st", Arc::new(inner)),
        ]);
        let columns = spec(&[("list", "text"), ("map", "text"), ("st", "text")]);
        let got = convert(&batch, &columns);
        assert_eq!(
            got,
            vec![
                (
                    11,
                    text(&[
                        Some("[1,null]"),
                        Some(r#"{"k\"1":5}"#),
                        Some(r#"{"name":"a\nb\u0001","score":"NaN","day":"2022-01-08"}"#),
                    ])
                ),
                (
                    12,
                    text(&[
                        None,
                        Some("{}"),
                        Some(r#"{"name":null,"score":2.5,"day":"1970-01-01"}"#),
                    ])
                ),
            ]
        );
        for (_, fields) in got {
            for value in fields.into_iter().flatten() {
                serde_json::from_str::<serde_json::Value>(&value).unwrap();
            }
        }
    }

    #[test]
    fn unmappable_or_missing_columns_fail_with_one_line() {
        let file = batch(vec![
            ("n", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["x"]))),
            ("f", Arc::new(Float64Array::from(vec![1.0]))),
        ]);
        let schema = file.schema();
        let err = RowBatchRecords::new(&schema, &spec(&[("n", "date")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column n: the Parquet file's type Int64 does not load into date"
        );
        let err = RowBatchRecords::new(&schema, &spec(&[("f", "bigint")])).unwrap_err();
        assert!(matches!(err, ObjectError::ParquetColumn { .. }), "{err}");
        let times = batch(vec![
            (
                "local",
                Arc::new(TimestampSecondArray::from(vec![0])) as ArrayRef,
            ),
            (
                "instant",
                Arc::new(TimestampSecondArray::from(vec![0]).with_timezone("UTC")),
            ),
        ]);
        RowBatchRecords::new(&times.schema(), &spec(&[("local", "timestamptz")])).unwrap();
        let err =
            RowBatchRecords::new(&times.schema(), &spec(&[("instant", "timestamp")])).unwrap_err();
        assert!(matches!(err, ObjectError::ParquetColumn { .. }), "{err}");
        let err = RowBatchRecords::new(&schema, &spec(&[("gone", "text")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column gone (text) is not in the Parquet file, which has: n, s, f"
        );
        // A string loads into any type: the transform checks the text.
        RowBatchRecords::new(&schema, &spec(&[("s", "uuid"), ("n", "text")])).unwrap();
        let other = batch(vec![
            (
                "bin",
                Arc::new(BinaryArray::from_vec(vec![b"\x00"])) as ArrayRef,
            ),
            (
                "dict",
                Arc::new(DictionaryArray::<Int32Type>::from_iter(["a"])),
            ),
            (
                "nested_dict",
                Arc::new(StructArray::from(vec![(
                    Arc::new(Field::new(
                        "d",
                        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                        false,
                    )),
                    Arc::new(DictionaryArray::<Int32Type>::from_iter(["a"])) as ArrayRef,
                )])),
            ),
        ]);
        for (column, file_type) in [
            ("bin", "Binary"),
            ("dict", "Dictionary(Int32, Utf8)"),
            (
                "nested_dict",
                "Struct(\"d\": non-null Dictionary(Int32, Utf8))",
            ),
        ] {
            let err =
                RowBatchRecords::new(&other.schema(), &spec(&[(column, "text")])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "column {column}: the Parquet file's type {file_type} does not load into text"
                )
            );
        }
    }

    /// Conversion speed, printed with `--nocapture`. A release build converted 1M such rows at 2.6M to 3.9M rows/s
    /// on the shared 2-core VM, depending on its load.
    #[test]
    fn throughput() {
        const ROWS: u32 = 200_000;
        let rows = i64::from(ROWS);
        let ids: Vec<i64> = (0..rows).collect();
        let names: Vec<String> = (0..rows).map(|i| format!("user-{i}")).collect();
        let amounts: Vec<i128> = (0..rows).map(|i| i128::from(i) * 37).collect();
        let batch = batch(vec![
            ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
            ("name", Arc::new(StringArray::from(names))),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(amounts)
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
            ),
            (
                "at",
                Arc::new(
                    TimestampMicrosecondArray::from(
                        ids.iter()
                            .map(|i| 1_700_000_000_000_000 + i * 1_000_003)
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
            ),
            (
                "score",
                Arc::new(Float64Array::from(
                    (0..ROWS).map(|i| f64::from(i) / 7.0).collect::<Vec<_>>(),
                )),
            ),
            (
                "ok",
                Arc::new(BooleanArray::from(
                    ids.iter().map(|i| i % 2 == 0).collect::<Vec<_>>(),
                )),
            ),
        ]);
        let columns = spec(&[
            ("id", "bigint"),
            ("name", "text"),
            ("amount", "numeric(12,2)"),
            ("at", "timestamptz"),
            ("score", "double precision"),
            ("ok", "boolean"),
        ]);
        let mut records = RowBatchRecords::new(&batch.schema(), &columns).unwrap();
        let mut bytes = 0usize;
        let started = std::time::Instant::now();
        for chunk in 0..=(rows / 8192) {
            let offset = usize::try_from(chunk * 8192).unwrap();
            let len = 8192.min(batch.num_rows() - offset);
            let slice = batch.slice(offset, len);
            records
                .for_each_record(&slice, 1, &mut |r: Record<'_>| {
                    bytes += r.data.len();
                    Ok(())
                })
                .unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "converted {rows} rows ({bytes} bytes of text) in {elapsed:?}: {:.0} rows/s",
            f64::from(ROWS) / elapsed.as_secs_f64()
        );
    }
}
