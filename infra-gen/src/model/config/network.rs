//! `[network]`: the VPC and subnet CIDRs and the admin and HTTP ranges, read and checked (inside
//! the VPC, no overlaps, SSH from no more than a /8 in total, HTTP from the whole internet only
//! when `http_public` says so).

use serde::Deserialize;

use crate::model::Network;
use crate::model::config::validator::Validator;
use crate::model::names::Cidr;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawNetwork {
    vpc_cidr: String,
    public_subnet_cidrs: Vec<String>,
    private_subnet_cidrs: Vec<String>,
    admin_cidrs: Vec<String>,
    http_cidrs: Vec<String>,
    /// The explicit consent to HTTP from the whole internet; read by validation only, since the
    /// rules it admits are the `http_cidrs` themselves.
    http_public: bool,
}

/// The widest SSH source the admin ranges may add up to: an operator's networks are never more
/// than a /8, and a set wider than that is a typo or the internet in pieces.
const ADMIN_MAX_PREFIX: u8 = 8;

impl Default for RawNetwork {
    fn default() -> Self {
        Self {
            vpc_cidr: "10.20.0.0/16".into(),
            public_subnet_cidrs: vec!["10.20.0.0/24".into(), "10.20.1.0/24".into()],
            private_subnet_cidrs: vec!["10.20.10.0/24".into(), "10.20.11.0/24".into()],
            admin_cidrs: Vec::new(),
            http_cidrs: Vec::new(),
            http_public: false,
        }
    }
}

impl Validator<'_> {
    pub(super) fn cidr(&mut self, field: &str, text: &str) -> Option<Cidr> {
        Cidr::parse(text)
            .map_err(|message| self.fail(field, message))
            .ok()
    }

    pub(super) fn cidrs(&mut self, field: &str, texts: &[String]) -> Vec<Cidr> {
        texts.iter().filter_map(|t| self.cidr(field, t)).collect()
    }

    pub(super) fn pair(&mut self, field: &str, texts: &[String]) -> Option<[Cidr; 2]> {
        let cidrs = self.cidrs(field, texts);
        if let [a, b] = cidrs[..] {
            Some([a, b])
        } else {
            if cidrs.len() == texts.len() {
                self.fail(
                    field,
                    format!(
                        "needs exactly 2 CIDR blocks (one per AZ), found {}",
                        texts.len()
                    ),
                );
            }
            None
        }
    }

    pub(super) fn network(&mut self, raw: &RawNetwork) -> Network {
        let vpc_cidr = self.cidr("network.vpc_cidr", &raw.vpc_cidr);
        if let Some(vpc) = vpc_cidr {
            self.check(
                (16..=24).contains(&vpc.prefix()),
                "network.vpc_cidr",
                "prefix length must be between /16 and /24",
            );
        }
        let public = self.pair("network.public_subnet_cidrs", &raw.public_subnet_cidrs);
        let private = self.pair("network.private_subnet_cidrs", &raw.private_subnet_cidrs);
        if let (Some(vpc), Some(public), Some(private)) = (vpc_cidr, public, private) {
            let subnets = [
                ("network.public_subnet_cidrs", public),
                ("network.private_subnet_cidrs", private),
            ];
            for (field, pair) in subnets {
                for cidr in pair {
                    if !vpc.contains(cidr) {
                        self.fail(
                            field,
                            format!("{cidr} is not inside network.vpc_cidr {vpc}"),
                        );
                    }
                }
            }
            let all = [public[0], public[1], private[0], private[1]];
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    if a.overlaps(*b) {
                        self.fail("network", format!("subnets {a} and {b} overlap"));
                    }
                }
            }
        }
        let admin_cidrs = self.cidrs("network.admin_cidrs", &raw.admin_cidrs);
        if Cidr::union_size(&admin_cidrs) > Cidr::size_of_prefix(ADMIN_MAX_PREFIX) {
            self.fail(
                "network.admin_cidrs",
                format!(
                    "together these ranges are wider than a /{ADMIN_MAX_PREFIX}, which would open SSH to \
                     much of the internet (0.0.0.0/0 or its halves); list your own ranges"
                ),
            );
        }
        let http_cidrs = self.cidrs("network.http_cidrs", &raw.http_cidrs);
        if Cidr::union_size(&http_cidrs) == Cidr::size_of_prefix(0) && !raw.http_public {
            self.fail(
                "network.http_cidrs",
                "together these ranges are the whole internet; set network.http_public = true \
                 to serve HTTP to everyone on purpose",
            );
        }
        // Placeholders only reach the model when errors were recorded, and then it is discarded.
        let fallback = Cidr::default();
        Network {
            vpc_cidr: vpc_cidr.unwrap_or(fallback),
            public_subnet_cidrs: public.unwrap_or([fallback; 2]),
            private_subnet_cidrs: private.unwrap_or([fallback; 2]),
            admin_cidrs,
            http_cidrs,
        }
    }
}
