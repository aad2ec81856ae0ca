//! Refactor safety: the address ledger and the declared history of renamed and removed resources.
//!
//! Terraform knows a resource only by its address (`aws_s3_bucket.data`). Renaming one in
//! `lower/` therefore plans a destroy and a create, which for the data bucket or the database
//! means losing data. The ledger (`out/addresses.txt`, committed, one address a line) lists every
//! resource address the last generation emitted for a configuration; [`check`] refuses a
//! generation in which one disappears without a declaration in [`HISTORY`] that it was moved (to
//! a new address) or removed (destroyed, or only forgotten). [`declare`] turns those declarations
//! into Terraform's own `moved` and `removed` blocks (`history.tf.json`).
//!
//! The declarations are a Rust table, not `platform.toml` keys: addresses are chosen by the code
//! in `lower/`, so a rename is a code change and its declaration belongs in the same commit, and
//! it holds for every configuration (every state out there still has the old address). A block is
//! emitted only where it applies: a `moved` block when its new address is generated, a `removed`
//! block when its address is not. Keep declarations for as long as an old state may exist.
//! This module reads the `tf` document only.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::tf::{Document, FileId, TfError};

/// A resource that now lives at another address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    /// The old bare address, e.g. `aws_s3_bucket.datasets`.
    pub from: &'static str,
    /// The new bare address, e.g. `aws_s3_bucket.data`.
    pub to: &'static str,
}

/// A resource that left the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The old bare address.
    pub from: &'static str,
    /// `true` destroys the real object; `false` leaves it running and only forgets it.
    pub destroy: bool,
}

/// The two root modules `gen` writes, each with its own state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Module {
    /// The platform module (`out/`).
    Platform,
    /// The bootstrap module (`out/bootstrap/`).
    Bootstrap,
}

/// Every rename and removal the generator has made, oldest first.
#[derive(Clone, Copy, Debug, Default)]
pub struct History {
    /// Renamed resources.
    pub moved: &'static [Moved],
    /// Removed resources, in both modules.
    pub removed: &'static [Removed],
    /// Removed resources of the bootstrap module only; for an address also in `removed` (which
    /// the platform module forgot when the bootstrap module adopted it), this one holds there.
    pub bootstrap_removed: &'static [Removed],
}

impl History {
    /// The removals that apply to `module`'s state.
    pub fn removals(&self, module: Module) -> Vec<Removed> {
        let own: &[Removed] = match module {
            Module::Platform => &[],
            Module::Bootstrap => self.bootstrap_removed,
        };
        own.iter()
            .chain(
                self.removed
                    .iter()
                    .filter(|r| !own.iter().any(|o| o.from == r.from)),
            )
            .copied()
            .collect()
    }
}

/// The shipped history. Add a line here in the commit that renames or drops a resource, e.g.
/// `Moved { from: "aws_s3_bucket.datasets", to: "aws_s3_bucket.data" }`.
pub const HISTORY: History = History {
    moved: &[],
    removed: &[
        // Security group rules became `aws_vpc_security_group_{ingress,egress}_rule` (one CIDR or
        // peer each). The provider cannot move state across types, so the old rules are destroyed
        // and the new ones created; an apply that meets a duplicate rule succeeds when re-run.
        Removed {
            from: "aws_security_group_rule.database_postgres_in",
            destroy: true,
        },
        Removed {
            from: "aws_security_group_rule.etl_host_http",
            destroy: true,
        },
        Removed {
            from: "aws_security_group_rule.etl_host_http_out",
            destroy: true,
        },
        Removed {
            from: "aws_security_group_rule.etl_host_https_out",
            destroy: true,
        },
        Removed {
            from: "aws_security_group_rule.etl_host_postgres_out",
            destroy: true,
        },
        Removed {
            from: "aws_security_group_rule.etl_host_ssh",
            destroy: true,
        },
        // The CI identity moved to the bootstrap module (out/bootstrap/), which an administrator
        // applies: the platform's state forgets these objects without destroying them, and the
        // bootstrap module adopts them with `terraform import` (infra-gen/README.md, Bootstrap).
        Removed {
            from: "aws_iam_openid_connect_provider.github",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_database",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_delivery",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_identity",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_network",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_observability",
            destroy: false,
        },
        Removed {
            from: "aws_iam_policy.github_apply_storage",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role.github_apply",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role.github_deploy",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role.github_plan",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy.github_deploy",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy.github_plan",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_database",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_delivery",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_identity",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_network",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_observability",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_apply_storage",
            destroy: false,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_plan_read_only",
            destroy: false,
        },
        // The two keys moved to the bootstrap module too, so the apply role needs no
        // kms:CreateKey or kms:TagResource: forgotten here, adopted there with `terraform import`
        // (infra-gen/README.md, Bootstrap), never destroyed (that would lose the data they encrypt).
        Removed {
            from: "aws_kms_alias.alarms",
            destroy: false,
        },
        Removed {
            from: "aws_kms_alias.platform",
            destroy: false,
        },
        Removed {
            from: "aws_kms_key.alarms",
            destroy: false,
        },
        Removed {
            from: "aws_kms_key.platform",
            destroy: false,
        },
    ],
    bootstrap_removed: &[
        // The plan role's grants are generated (`lower/apply/plan.rs`): AWS's `ReadOnlyAccess`
        // and the inline state policy go. The platform module forgot them when the bootstrap
        // module adopted them (above); here they are the bootstrap's own and must be destroyed,
        // or the role would keep ReadOnlyAccess.
        Removed {
            from: "aws_iam_role_policy.github_plan",
            destroy: true,
        },
        Removed {
            from: "aws_iam_role_policy_attachment.github_plan_read_only",
            destroy: true,
        },
    ],
};

/// The file that receives the `moved` and `removed` blocks.
const FILE: FileId = FileId("history");

/// The ledger's file name inside the output directory.
pub const LEDGER_FILE: &str = "addresses.txt";

const HEADER: &str = "# Every resource address `infra-gen gen` emits for this configuration, written by it.\n\
# An address may only disappear when infra-gen/src/ledger.rs declares it moved or removed.\n";

/// Why the ledger refuses a generation, or cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    /// A line of the ledger file is not a resource address.
    #[error("{file}: line {line}: {text:?} is not a resource address (type.name)")]
    Parse {
        /// The ledger file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The offending text.
        text: String,
    },
    /// Addresses in the ledger are no longer generated and nothing says where they went.
    #[error("{}", vanished_message(.0))]
    Vanished(Vec<Vanished>),
}

/// One address that disappeared, with the new addresses of the same type (rename candidates).
#[derive(Debug, PartialEq, Eq)]
pub struct Vanished {
    /// The address in the ledger that is no longer generated.
    pub address: String,
    /// Newly generated addresses of the same resource type.
    pub candidates: Vec<String>,
}

fn vanished_message(vanished: &[Vanished]) -> String {
    let mut text = String::new();
    for (i, v) in vanished.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        let _ = write!(
            text,
            "{} is in the address ledger but no longer generated",
            v.address
        );
        if v.candidates.is_empty() {
            text.push_str(" (no new address of its type)");
        } else {
            let _ = write!(text, " (new: {})", v.candidates.join(", "));
        }
    }
    text.push_str(
        ": Terraform would destroy it; declare it moved or removed in HISTORY \
         (infra-gen/src/ledger.rs)",
    );
    text
}

/// The set of resource addresses of one configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger(BTreeSet<String>);

impl Ledger {
    /// The resource addresses a document declares (data sources, variables and outputs hold no
    /// real objects and are left out).
    pub fn of(doc: &Document) -> Self {
        Self(
            doc.resources()
                .iter()
                .map(|r| format!("{}.{}", r.type_, r.name))
                .collect(),
        )
    }

    /// Reads a ledger file's text; `#` lines and blank lines are ignored.
    pub fn parse(text: &str, file: &str) -> Result<Self, LedgerError> {
        let mut addresses = BTreeSet::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !is_address(line) {
                return Err(LedgerError::Parse {
                    file: file.to_owned(),
                    line: index + 1,
                    text: line.to_owned(),
                });
            }
            addresses.insert(line.to_owned());
        }
        Ok(Self(addresses))
    }

    /// The file text: a header, then one address a line, sorted.
    pub fn render(&self) -> String {
        let mut text = HEADER.to_owned();
        for address in &self.0 {
            text.push_str(address);
            text.push('\n');
        }
        text
    }
}

/// `type.name` with Terraform identifier characters on both sides.
fn is_address(text: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    matches!(text.split_once('.'), Some((type_, name)) if ident(type_) && ident(name))
}

/// Where a chain of moves starting at `from` ends (`a → b`, then `b → c`: Terraform follows both
/// blocks), `None` when nothing moved from it.
fn destination<'a>(history: &'a History, from: &str) -> Option<&'a str> {
    let mut at = None;
    let mut next = from;
    // Each step uses a declaration; more steps than declarations means a cycle.
    for _ in 0..history.moved.len() {
        let Some(moved) = history.moved.iter().find(|m| m.from == next) else {
            break;
        };
        at = Some(moved.to);
        next = moved.to;
    }
    at
}

/// Refuses `current` when an address of `previous` is gone without a declaration in `history`
/// that accounts for it: moved (possibly in several steps) to an address that is generated now,
/// or removed in `module`.
pub fn check(
    previous: &Ledger,
    current: &Ledger,
    history: &History,
    module: Module,
) -> Result<(), LedgerError> {
    let removals = history.removals(module);
    let accounted = |address: &str| {
        destination(history, address).is_some_and(|to| current.0.contains(to))
            || removals.iter().any(|r| r.from == address)
    };
    let vanished: Vec<Vanished> = previous
        .0
        .difference(&current.0)
        .filter(|address| !accounted(address))
        .map(|address| {
            let type_ = address.split_once('.').map_or("", |(t, _)| t);
            let candidates = current
                .0
                .difference(&previous.0)
                .filter(|new| new.split_once('.').is_some_and(|(t, _)| t == type_))
                .cloned()
                .collect();
            Vanished {
                address: address.clone(),
                candidates,
            }
        })
        .collect();
    if vanished.is_empty() {
        Ok(())
    } else {
        Err(LedgerError::Vanished(vanished))
    }
}

/// Adds the `moved` and `removed` blocks that apply to this document: a move whose chain ends at
/// a generated address, a removal whose address is not generated. A move whose old address is
/// still generated is an error (Terraform refuses it too).
pub fn declare(doc: &mut Document, history: &History, module: Module) -> Result<(), TfError> {
    for moved in history.moved {
        if destination(history, moved.from).is_some_and(|to| doc.declares(to)) {
            if doc.declares(moved.from) {
                return Err(TfError::Invalid {
                    address: moved.from.to_owned(),
                    message: format!("declared moved to {} but still generated", moved.to),
                });
            }
            doc.moved_address(FILE, moved.from, moved.to);
        }
    }
    for removed in history.removals(module) {
        if !doc.declares(removed.from) {
            doc.removed(FILE, removed.from, removed.destroy)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ledger::{History, Ledger, LedgerError, Module, Moved, Removed, Vanished, check};

    fn ledger(addresses: &[&str]) -> Ledger {
        Ledger::parse(&addresses.join("\n"), "test").unwrap()
    }

    #[test]
    fn the_file_round_trips_sorted_with_its_header() {
        let one = ledger(&["aws_vpc.main", "aws_s3_bucket.data"]);
        let text = one.render();
        assert!(text.ends_with("# An address may only disappear when infra-gen/src/ledger.rs declares it moved or removed.\naws_s3_bucket.data\naws_vpc.main\n"), "{text}");
        assert_eq!(Ledger::parse(&text, "x").unwrap(), one);
        let bad = Ledger::parse("aws_vpc.main\nnot an address\n", "out/addresses.txt");
        assert_eq!(
            bad.unwrap_err().to_string(),
            "out/addresses.txt: line 2: \"not an address\" is not a resource address (type.name)"
        );
    }

    #[test]
    fn a_vanished_address_needs_a_declaration() {
        let before = ledger(&["aws_s3_bucket.data", "aws_vpc.main", "aws_eip.host"]);
        let after = ledger(&["aws_s3_bucket.datasets", "aws_vpc.main"]);
        let err = check(&before, &after, &History::default(), Module::Platform).unwrap_err();
        assert_eq!(
            err,
            LedgerError::Vanished(vec![
                Vanished {
                    address: "aws_eip.host".into(),
                    candidates: vec![],
                },
                Vanished {
                    address: "aws_s3_bucket.data".into(),
                    candidates: vec!["aws_s3_bucket.datasets".into()],
                },
            ])
        );
        assert!(err.to_string().starts_with("aws_eip.host is in the address ledger but no longer generated (no new address of its type); aws_s3_bucket.data is in"), "{err}");
        let declared = History {
            moved: &[Moved {
                from: "aws_s3_bucket.data",
                to: "aws_s3_bucket.datasets",
            }],
            removed: &[Removed {
                from: "aws_eip.host",
                destroy: false,
            }],
            ..History::default()
        };
        check(&before, &after, &declared, Module::Platform).unwrap();
        // A move to an address that is not generated accounts for nothing.
        let astray = History {
            moved: &[Moved {
                from: "aws_s3_bucket.data",
                to: "aws_s3_bucket.elsewhere",
            }],
            ..declared
        };
        assert!(check(&before, &after, &astray, Module::Platform).is_err());
        // Renamed twice (data → raw, later raw → datasets): Terraform follows the chain.
        let chained = History {
            moved: &[
                Moved {
                    from: "aws_s3_bucket.data",
                    to: "aws_s3_bucket.raw",
                },
                Moved {
                    from: "aws_s3_bucket.raw",
                    to: "aws_s3_bucket.datasets",
                },
            ],
            ..declared
        };
        check(&before, &after, &chained, Module::Platform).unwrap();
    }

    #[test]
    fn a_bootstrap_removal_overrides_the_shared_one_there_only() {
        let history = History {
            removed: &[
                Removed {
                    from: "aws_iam_role.old",
                    destroy: false,
                },
                Removed {
                    from: "aws_eip.spare",
                    destroy: false,
                },
            ],
            bootstrap_removed: &[Removed {
                from: "aws_iam_role.old",
                destroy: true,
            }],
            ..History::default()
        };
        let destroyed = |module| {
            history
                .removals(module)
                .iter()
                .map(|r| (r.from, r.destroy))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            destroyed(Module::Bootstrap),
            [("aws_iam_role.old", true), ("aws_eip.spare", false)]
        );
        assert_eq!(
            destroyed(Module::Platform),
            [("aws_iam_role.old", false), ("aws_eip.spare", false)]
        );
        let before = ledger(&["aws_iam_role.old"]);
        check(&before, &ledger(&[]), &history, Module::Bootstrap).unwrap();
    }
}
