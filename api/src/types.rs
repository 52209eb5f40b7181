//! The typed values of the control API: MAC addresses, VNIs, prefixes,
//! address ranges, route targets and classes, and the parts of a firewall
//! rule. Each is parsed once, where a request or a state document is read
//! (`FromStr`, which deserialization calls, so a bad value is refused with
//! `FromStr`'s message), and written back as the same text (`Display`): the
//! JSON of the protocol and of the state file is the text people type.

/// Implements `Serialize` through `Display` and `Deserialize` through
/// `FromStr` (whose error message becomes serde's), for a type written as
/// a string; `$what` is what serde says it expected.
macro_rules! serde_as_text {
    ($t:ty, $what:expr) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Text;
                impl serde::de::Visitor<'_> for Text {
                    type Value = $t;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(Text)
            }
        }
    };
}

mod firewall;
mod mac;
mod prefix;
mod range;
mod route;
mod vni;

pub use firewall::{FwAction, FwDirection, FwHostSpec, FwProtocolSpec, IcmpMatch, PortRangeSpec};
pub use mac::MacAddr;
pub use prefix::Prefix;
pub use range::AddrRange;
pub use route::{RouteClass, RouteTarget};
pub use vni::Vni;

#[cfg(test)]
pub(crate) mod testing {
    //! What every type's tests check.

    use serde::{de::DeserializeOwned, Serialize};
    use std::fmt::{Debug, Display};
    use std::str::FromStr;

    /// `text` parses, prints back as `canon`, and goes through JSON as the
    /// string `canon` (and back to the same value).
    pub fn round_trips<T>(text: &str, canon: &str)
    where
        T: FromStr<Err = String> + Display + Debug + PartialEq + Serialize + DeserializeOwned,
    {
        let v: T = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(v.to_string(), canon, "{text}");
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, serde_json::to_string(canon).unwrap(), "{text}");
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v, "{text}");
        assert_eq!(canon.parse::<T>().as_ref(), Ok(&v), "{text}");
    }

    /// `text` is refused with exactly `want`, by `FromStr` and, in JSON, by
    /// deserialization (serde's message carries `FromStr`'s).
    pub fn refuses<T>(text: &str, want: &str)
    where
        T: FromStr<Err = String> + Debug + DeserializeOwned,
    {
        assert_eq!(text.parse::<T>().err().as_deref(), Some(want), "{text}");
        let json = serde_json::to_string(text).unwrap();
        let e = serde_json::from_str::<T>(&json).unwrap_err().to_string();
        assert!(e.starts_with(want), "{text}: {e}");
    }
}
