//! References: a [`Handle`] is returned when a block is declared and is the only way to refer to
//! it; [`Ref`] is its typed `id`, [`VarRef`] an input variable's, [`Address`] the bare address that
//! meta-arguments take.

use std::fmt;
use std::marker::PhantomData;

use serde::{Serialize, Serializer};

use super::{Expr, TfString};

/// A bare address such as `aws_s3_bucket.data`, for meta-arguments like `depends_on`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Address(pub(super) String);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Proof that a block of type `T` was declared; the only way to refer to it.
#[derive(Debug)]
pub struct Handle<T> {
    pub(super) address: Address,
    pub(super) kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            address: self.address.clone(),
            kind: PhantomData,
        }
    }
}

impl<T> Handle<T> {
    /// The interpolation `${<address>.<attribute>}`; `attribute` may index, e.g. `names[0]`.
    pub fn attr(&self, attribute: &str) -> TfString {
        TfString::expr(&format!("{}.{attribute}", self.address))
    }

    /// The single element of the list attribute, or the literal `fallback` when the list is
    /// empty (`one` gives null there, `coalesce` skips it); `one` fails on two or more, which
    /// stops the plan.
    pub fn one_or(&self, attribute: &str, fallback: &str) -> TfString {
        TfString::expr(&format!(
            "coalesce(one({}.{attribute}), {})",
            self.address,
            serde_json::Value::String(fallback.to_owned())
        ))
    }

    /// The same attribute as a non-string expression (a list, number or bool).
    pub fn attr_expr(&self, attribute: &str) -> Expr {
        Expr(self.attr(attribute))
    }

    /// `${<address>.arn}`.
    pub fn arn(&self) -> TfString {
        self.attr("arn")
    }

    /// The typed `${<address>.id}` reference.
    pub fn id(&self) -> Ref<T> {
        Ref {
            expr: self.attr("id"),
            kind: PhantomData,
        }
    }

    /// The bare address, for meta-arguments.
    pub fn address(&self) -> Address {
        self.address.clone()
    }
}

/// A reference to the `id` of a declared block of type `T`: a subnet id cannot be passed where
/// a VPC id is wanted.
#[derive(Debug)]
pub struct Ref<T> {
    expr: TfString,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Self {
            expr: self.expr.clone(),
            kind: PhantomData,
        }
    }
}

impl<T> Ref<T> {
    /// The reference as an untyped string, for arguments that accept several kinds of id.
    pub fn string(&self) -> TfString {
        self.expr.clone()
    }
}

impl<T> Serialize for Ref<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.expr.serialize(serializer)
    }
}

/// A handle to an input variable; its value is an expression.
#[derive(Clone, Debug)]
pub struct VarRef(pub(super) String);

impl VarRef {
    /// `${var.<name>}` as a string.
    pub fn string(&self) -> TfString {
        TfString::expr(&format!("var.{}", self.0))
    }

    /// `${var.<name>}` as a non-string expression.
    pub fn expr(&self) -> Expr {
        Expr(self.string())
    }
}
