//! The PostgreSQL column types a dataset spec may name, and how a spec writes them. The check and binary
//! encoding of a value of each type live with the transform (`transform::types`), which imports this.

use std::fmt;

/// The PostgreSQL types a dataset column may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `text`.
    Text,
    /// `varchar(n)`: at most `n` characters.
    Varchar(u32),
    /// `smallint`: 16-bit integer.
    SmallInt,
    /// `integer`: 32-bit integer.
    Integer,
    /// `bigint`: 64-bit integer.
    BigInt,
    /// `real`: 32-bit float.
    Real,
    /// `double precision`: 64-bit float.
    Double,
    /// `numeric(precision, scale)`; `None` is unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
    /// `timestamp`: a date and time without a zone.
    Timestamp,
    /// `timestamptz`: an instant, stored as UTC.
    TimestampTz,
    /// `uuid`.
    Uuid,
    /// A JSON document (an object or array from JSON Lines or Parquet, or JSON text in CSV).
    Jsonb,
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
            ("jsonb", None) => Self::Jsonb,
            _ => return Err(format!("unsupported type {raw:?}")),
        };
        Ok(t)
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
            Self::Jsonb => f.write_str("jsonb"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::ColumnType;

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
