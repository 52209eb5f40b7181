//! MAC addresses.

use std::fmt;
use std::str::FromStr;

/// An Ethernet (EUI-48) MAC address, written `aa:bb:cc:dd:ee:ff` (read in
/// either case, written in lower case).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The six octets, in wire order.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Whether this names a single station: not a group address (I/G bit
    /// clear) and not all zeros.
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 0x01 == 0 && self.0 != [0; 6]
    }
}

impl FromStr for MacAddr {
    type Err = String;

    /// Six octets of two hex digits each, separated by `:`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)");
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        match parts.next() {
            Some(_) => Err(bad()),
            None => Ok(MacAddr(out)),
        }
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

serde_as_text!(MacAddr, "a MAC address (aa:bb:cc:dd:ee:ff)");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{refuses, round_trips};

    #[test]
    fn round_trips_in_lower_case() {
        round_trips::<MacAddr>("a8:40:25:00:00:05", "a8:40:25:00:00:05");
        round_trips::<MacAddr>("A8:40:25:FF:0a:0B", "a8:40:25:ff:0a:0b");
        assert_eq!(
            "02:00:00:00:00:fe".parse::<MacAddr>(),
            Ok(MacAddr([2, 0, 0, 0, 0, 0xfe]))
        );
    }

    #[test]
    fn refuses_what_is_not_six_octets() {
        for bad in [
            "zz",
            "",
            "a8:40:25:00:00",
            "a8:40:25:00:00:05:06",
            "a8-40-25-00-00-05",
            "a8:40:25:0:00:05",
            "a8:40:25:000:00:05",
            "a8:40:25:00:00:0g",
            "a8:40:25:00:00:05:",
            " a8:40:25:00:00:05",
            "+8:40:25:00:00:05",
        ] {
            refuses::<MacAddr>(
                bad,
                &format!("{bad:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
            );
        }
        let e = serde_json::from_str::<MacAddr>("5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a MAC address"), "{e}");
    }

    #[test]
    fn unicast_is_neither_group_nor_zero() {
        let m = |s: &str| s.parse::<MacAddr>().unwrap();
        assert!(m("a8:40:25:00:00:05").is_unicast());
        assert!(!m("01:00:5e:00:00:01").is_unicast());
        assert!(!m("ff:ff:ff:ff:ff:ff").is_unicast());
        assert!(!m("00:00:00:00:00:00").is_unicast());
        assert_eq!(m("a8:40:25:00:00:05").octets()[5], 5);
    }
}
