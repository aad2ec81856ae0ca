//! Validated newtypes for identifier-like strings, so an unchecked string cannot reach lowering.

use std::fmt;
use std::net::Ipv4Addr;

/// The platform name prefix: lowercase letters, digits and hyphens, 2 to 24 characters, starting
/// with a letter. Short enough that every derived name (bucket, role, DB identifier) stays valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Checks the prefix rules.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_chars = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let starts = text.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !(2..=24).contains(&text.len())
            || !ok_chars
            || !starts
            || text.ends_with('-')
            || text.contains("--")
        {
            return Err(format!(
                "{text:?} must be 2-24 characters of a-z, 0-9 and single hyphens, starting with a letter"
            ));
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IPv4 CIDR block in canonical form (no host bits set). The default is `0.0.0.0/0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Default for Cidr {
    fn default() -> Self {
        Self {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        }
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n` and rejects host bits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a CIDR block (a.b.c.d/n)"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{text:?} has an invalid IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{text:?} has a prefix length outside 0-32"))?;
        let cidr = Self { addr, prefix };
        if cidr.network() != u32::from(addr) {
            return Err(format!("{text:?} has host bits set"));
        }
        Ok(cidr)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    fn network(self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether `other` lies entirely inside this block.
    pub fn contains(self, other: Cidr) -> bool {
        other.prefix >= self.prefix && (u32::from(other.addr) & self.mask()) == self.network()
    }

    /// Whether the two blocks share any address.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::names::{Cidr, Name};

    #[test]
    fn cidrs_parse_canonically() {
        let vpc = Cidr::parse("10.20.0.0/16").unwrap();
        assert_eq!(vpc.to_string(), "10.20.0.0/16");
        assert!(vpc.contains(Cidr::parse("10.20.3.0/24").unwrap()));
        assert!(!vpc.contains(Cidr::parse("10.21.0.0/24").unwrap()));
        assert!(
            Cidr::parse("10.20.0.1/16")
                .unwrap_err()
                .contains("host bits")
        );
        assert!(Cidr::parse("10.20.0.0").is_err());
        assert!(Cidr::parse("10.20.0.0/33").is_err());
    }

    #[test]
    fn names_follow_the_prefix_rules() {
        assert!(Name::parse("demo").is_ok());
        assert!(Name::parse("Demo").is_err());
        assert!(Name::parse("a").is_err());
        assert!(Name::parse("1abc").is_err());
        assert!(Name::parse("ab-").is_err());
    }
}
