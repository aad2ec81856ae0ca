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

    /// The first and one past the last address, as `u64` so the whole space (`/0`) fits.
    fn range(self) -> (u64, u64) {
        let start = u64::from(self.network());
        (start, start + (1u64 << (32 - self.prefix)))
    }

    /// How many addresses the blocks cover together, each counted once. A check on each block's
    /// prefix alone is blind to a set such as `0.0.0.0/1` + `128.0.0.0/1`, which is the whole
    /// internet in two halves.
    pub fn union_size(cidrs: &[Cidr]) -> u64 {
        let mut ranges: Vec<(u64, u64)> = cidrs.iter().map(|c| c.range()).collect();
        ranges.sort_unstable();
        let mut total = 0;
        let mut covered_to = 0;
        for (start, end) in ranges {
            let from = start.max(covered_to);
            if end > from {
                total += end - from;
                covered_to = end;
            }
        }
        total
    }

    /// The number of addresses in a block of `prefix` bits, e.g. `size_of_prefix(8)` = 2^24.
    pub fn size_of_prefix(prefix: u8) -> u64 {
        1u64 << (32 - u32::from(prefix.min(32)))
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
    fn a_union_counts_each_address_once() {
        let parse = |texts: &[&str]| -> Vec<Cidr> {
            texts.iter().map(|t| Cidr::parse(t).unwrap()).collect()
        };
        assert_eq!(Cidr::union_size(&[]), 0);
        assert_eq!(
            Cidr::union_size(&parse(&["0.0.0.0/1", "128.0.0.0/1"])),
            Cidr::size_of_prefix(0)
        );
        assert_eq!(
            Cidr::union_size(&parse(&["10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/9"])),
            Cidr::size_of_prefix(8)
        );
        assert_eq!(
            Cidr::union_size(&parse(&["10.0.0.0/8", "11.0.0.0/32"])),
            Cidr::size_of_prefix(8) + 1
        );
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
