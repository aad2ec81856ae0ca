//! Terraform's string templates: [`TfString`] keeps literal text (escaped on construction) apart
//! from `${...}` interpolations, which only the crate's own builders and handles make; [`Expr`] is
//! an interpolation for an argument that is not a string.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::TfError;

/// A Terraform string in template syntax: literal text (escaped) and `${...}` interpolations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct TfString(pub(super) String);

impl TfString {
    /// A literal: `${` and `%{` are escaped so Terraform reads the text verbatim.
    pub fn lit(text: impl AsRef<str>) -> Self {
        Self(escape(text.as_ref()))
    }

    /// An interpolation of a bare expression. Crate-private: expressions come from handles and
    /// from the few builders below, never from arbitrary text.
    pub(crate) fn expr(expression: &str) -> Self {
        Self(format!("${{{expression}}}"))
    }

    /// `each.value`: the element of a `for_each` instance.
    pub fn each_value() -> Self {
        Self::expr("each.value")
    }

    /// Terraform's `null`, for an output whose resource is not configured.
    pub fn null() -> Self {
        Self::expr("null")
    }

    /// Concatenates parts into one template, e.g. an ARN followed by the literal `/*`.
    pub fn concat<I: IntoIterator<Item = TfString>>(parts: I) -> Self {
        Self(parts.into_iter().map(|p| p.0).collect())
    }

    /// Literal text with holes: each `⟦name⟧` (see [`hole`]) becomes the expression `holes[name]`
    /// and everything else is escaped as a literal. This is how a rendered document (cloud-init,
    /// an SSM document) carries Terraform references without any of its own `${` being read as one.
    pub fn with_holes(text: &str, holes: &BTreeMap<&str, TfString>) -> Result<Self, TfError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(HOLE_OPEN) {
            parts.push(Self::lit(&rest[..start]));
            let after = &rest[start + HOLE_OPEN.len_utf8()..];
            let end = after
                .find(HOLE_CLOSE)
                .ok_or_else(|| TfError::Hole(after.chars().take(40).collect()))?;
            let name = &after[..end];
            let value = holes
                .get(name)
                .ok_or_else(|| TfError::Hole(name.to_owned()))?;
            parts.push(value.clone());
            rest = &after[end + HOLE_CLOSE.len_utf8()..];
        }
        parts.push(Self::lit(rest));
        Ok(Self::concat(parts))
    }

    /// `base64gzip(local.<name>)`: user data from a local holding the document. Compressed,
    /// because EC2 takes at most 16 KiB and cloud-init unpacks gzip itself; the local keeps the
    /// document readable in the output.
    pub(crate) fn base64gzip_of_local(name: &str) -> Self {
        Self::expr(&format!("base64gzip(local.{name})"))
    }

    /// The template text exactly as it is written into the JSON file.
    pub fn as_template(&self) -> &str {
        &self.0
    }
}

impl Serialize for TfString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl From<&str> for TfString {
    fn from(text: &str) -> Self {
        Self::lit(text)
    }
}

const HOLE_OPEN: char = '\u{27E6}';
const HOLE_CLOSE: char = '\u{27E7}';

/// The marker [`TfString::with_holes`] replaces with an expression. Printable and non-ASCII, so
/// JSON and YAML serializers pass it through unchanged.
pub fn hole(name: &str) -> String {
    format!("{HOLE_OPEN}{name}{HOLE_CLOSE}")
}

/// Escapes template sequences so a literal survives Terraform's string templating unchanged.
pub fn escape(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// A bare expression for an argument that is not a string (a number, bool, list or count),
/// rendered as a single `${...}` interpolation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr(pub(super) TfString);

impl Expr {
    /// `toset(<list>)`: for `for_each`, one instance per distinct element of a list, keyed by
    /// the element itself so that removing one element destroys only its own instance.
    pub fn set_of(list: &Expr) -> Self {
        let inner = list.bare();
        Self(TfString::expr(&format!("toset({inner})")))
    }

    fn bare(&self) -> &str {
        let text = self.0.as_template();
        &text[2..text.len() - 1]
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}
