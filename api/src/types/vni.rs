//! VNIs.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A virtual network identifier: 24 bits, written as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Vni(u32);

impl Vni {
    /// The largest VNI.
    pub const MAX: Vni = Vni(0x00ff_ffff);

    /// The VNI as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Vni {
    type Error = String;

    /// Refuses a number above 24 bits.
    fn try_from(v: u32) -> Result<Self, String> {
        if v > Vni::MAX.0 {
            return Err(format!("vni {v} does not fit in 24 bits"));
        }
        Ok(Vni(v))
    }
}

impl From<Vni> for u32 {
    fn from(v: Vni) -> u32 {
        v.0
    }
}

impl FromStr for Vni {
    type Err = String;

    /// A decimal number of 24 bits.
    fn from_str(s: &str) -> Result<Self, String> {
        let n: u32 = s
            .parse()
            .map_err(|_| format!("{s:?} is not a VNI (a number from 0 to {})", Vni::MAX))?;
        Vni::try_from(n)
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_a_number() {
        for (text, n) in [("0", 0), ("100", 100), ("16777215", 0xff_ffff)] {
            let v: Vni = text.parse().unwrap();
            assert_eq!((v.get(), v.to_string()), (n, text.to_string()));
            assert_eq!(serde_json::to_string(&v).unwrap(), text);
            assert_eq!(serde_json::from_str::<Vni>(text).unwrap(), v);
            assert_eq!(Vni::try_from(n), Ok(v));
        }
    }

    #[test]
    fn refuses_more_than_24_bits() {
        let want = "vni 16777216 does not fit in 24 bits";
        assert_eq!(Vni::try_from(1 << 24).unwrap_err(), want);
        assert_eq!("16777216".parse::<Vni>().unwrap_err(), want);
        let e = serde_json::from_str::<Vni>("16777216").unwrap_err();
        assert!(e.to_string().starts_with(want), "{e}");
        assert_eq!(
            "x".parse::<Vni>().unwrap_err(),
            "\"x\" is not a VNI (a number from 0 to 16777215)"
        );
        assert!(serde_json::from_str::<Vni>("\"100\"").is_err());
        assert!(serde_json::from_str::<Vni>("-1").is_err());
    }
}
