//! The floor every table of `platform.toml` stands on: `Validator`, which collects every problem
//! with its field and line while the model is built, and the name checks several tables share.
//! It sits below the table files so that they import it and `config/mod.rs` only wires; it
//! imports no table.

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `network.vpc_cidr`.
    pub field: String,
    /// 1-based line of the key in the file, when it is there.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Collects field errors while building the model; placeholders keep the walk going.
pub(super) struct Validator<'a> {
    text: &'a str,
    errors: Vec<FieldError>,
}

impl<'a> Validator<'a> {
    /// A validator for `text`, the file as written (for line numbers).
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            errors: Vec::new(),
        }
    }

    /// The problems found so far, in the order they were found.
    pub(super) fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// Records a problem with `field`, at its line when the key is present.
    pub(super) fn fail(&mut self, field: &str, message: impl Into<String>) {
        // A key of an inline table (`workers = { max = 3 }`) is reported at its table's line.
        let line = key_line(self.text, field).or_else(|| {
            field
                .rsplit_once('.')
                .filter(|(parent, _)| parent.contains('.'))
                .and_then(|(parent, _)| key_line(self.text, parent))
        });
        self.errors.push(FieldError {
            field: field.to_owned(),
            line,
            message: message.into(),
        });
    }

    /// Records `message` for `field` unless `ok`.
    pub(super) fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.fail(field, message);
        }
    }
}

/// Whether `environment` is production, where settings default or are held to production values
/// (Multi-AZ on, logs kept a year).
pub(super) fn is_production(environment: &str) -> bool {
    environment == "prod"
}

pub(super) fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

pub(super) fn is_label(text: &str) -> bool {
    (1..=16).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(super) fn is_identifier(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| is_word(p))
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// The 1-based line where `field` (a dotted path) is set, found by scanning for its table
/// header and then its key; `None` when the key is absent, i.e. the default is in force.
fn key_line(text: &str, field: &str) -> Option<usize> {
    let (table, key) = field.rsplit_once('.').map_or(("", field), |(t, k)| (t, k));
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            header.trim().clone_into(&mut current);
            if current == field {
                return Some(index + 1);
            }
            continue;
        }
        let key_here = trimmed.split('=').next().map(str::trim);
        if current == table && trimmed.contains('=') && key_here == Some(key) {
            return Some(index + 1);
        }
    }
    None
}
