//! The identity of a flow and the direction of a packet through a port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which way a packet crosses a guest port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Guest -> wire.
    Out,
    /// Wire -> guest.
    In,
}

/// IP protocol numbers used by the engine.
pub mod proto {
    /// ICMPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// A flow's 5-tuple as seen on the guest side (inner headers).
///
/// `Hash` writes four packed 64-bit words (see [`FlowKey::words`]) rather than
/// each field through the `IpAddr` enums: hashing is on every packet's path.
///
/// For TCP and UDP the ports are the transport ports. For ICMP echo
/// request/reply, `src_port` and `dst_port` are both the echo identifier
/// (so a request and its reply are each other's reverse), and `icmp` holds
/// (type, code). For other protocols the ports are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub proto: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (or ICMP echo id).
    pub src_port: u16,
    /// Destination port (or ICMP echo id).
    pub dst_port: u16,
    /// ICMP (type, code), when `proto` is ICMP or ICMPv6.
    pub icmp: Option<(u8, u8)>,
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for w in self.words() {
            state.write_u64(w);
        }
    }
}

/// A flow key packed into five words: source high and low, destination
/// high and low, then protocol, ICMP type and code, family and ports (see
/// [`FlowKey::words`]). The fast path reads these straight from a frame's
/// bytes, hashes and compares them, and builds a [`FlowKey`] only on a miss.
pub type KeyWords = [u64; 5];

/// In the last word: set for IPv6 keys.
const V6_BIT: u64 = 1 << 49;
/// In the last word: set when the key has an ICMP (type, code).
const ICMP_BIT: u64 = 1 << 48;

/// An address as two words (an IPv4 address in the low word).
#[inline]
fn ip_words(ip: IpAddr) -> (u64, u64) {
    match ip {
        IpAddr::V4(a) => (0, u32::from(a) as u64),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            ((v >> 64) as u64, v as u64)
        }
    }
}

/// The last word of a key's packing.
#[inline]
pub fn misc_word(proto: u8, v6: bool, icmp: Option<(u8, u8)>, src_port: u16, dst_port: u16) -> u64 {
    let icmp = icmp.map_or(0, |(t, c)| ICMP_BIT | (t as u64) << 40 | (c as u64) << 32);
    (proto as u64) << 56
        | if v6 { V6_BIT } else { 0 }
        | icmp
        | (src_port as u64) << 16
        | dst_port as u64
}

/// The words of the reverse of the key packed in `w` (see [`FlowKey::reverse`]).
#[inline]
pub fn reverse_words(w: &KeyWords) -> KeyWords {
    let misc = w[4];
    let proto = (misc >> 56) as u8;
    let (sp, dp) = ((misc >> 16) as u16, misc as u16);
    let mut rest = misc & !0xffff_ffff;
    if misc & ICMP_BIT != 0 {
        let t = (misc >> 40) as u8;
        rest = (rest & !(0xff << 40)) | (reply_icmp_type(proto, t) as u64) << 40;
    }
    [w[2], w[3], w[0], w[1], rest | (dp as u64) << 16 | sp as u64]
}

impl FlowKey {
    /// The key packed into five words; distinct keys give distinct words.
    #[inline]
    pub fn words(&self) -> KeyWords {
        let (sh, sl) = ip_words(self.src);
        let (dh, dl) = ip_words(self.dst);
        let misc = misc_word(
            self.proto,
            self.src.is_ipv6(),
            self.icmp,
            self.src_port,
            self.dst_port,
        );
        [sh, sl, dh, dl, misc]
    }

    /// The key whose packing is `w` (the inverse of [`Self::words`]).
    #[inline]
    pub fn from_words(w: &KeyWords) -> FlowKey {
        let misc = w[4];
        let ip = |h: u64, l: u64| -> IpAddr {
            if misc & V6_BIT != 0 {
                IpAddr::V6(Ipv6Addr::from((h as u128) << 64 | l as u128))
            } else {
                IpAddr::V4(Ipv4Addr::from(l as u32))
            }
        };
        FlowKey {
            proto: (misc >> 56) as u8,
            src: ip(w[0], w[1]),
            dst: ip(w[2], w[3]),
            src_port: (misc >> 16) as u16,
            dst_port: misc as u16,
            icmp: (misc & ICMP_BIT != 0).then_some(((misc >> 40) as u8, (misc >> 32) as u8)),
        }
    }

    /// A well-mixed 32-bit hash of the key, stable across runs: the flow's
    /// entropy for the outer UDP source port and IPv6 flow label.
    #[inline]
    pub fn entropy(&self) -> u32 {
        let mut h = 0x9e37_79b9_7f4a_7c15u64;
        for w in self.words() {
            h = (h ^ w).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h ^= h >> 31;
        }
        (h ^ (h >> 32)) as u32
    }
    /// The key of the reply direction (addresses and ports swapped).
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            icmp: self.icmp.map(|(t, c)| (reply_icmp_type(self.proto, t), c)),
        }
    }
}

/// The ICMP type of the reply to an echo request (and vice versa); others unchanged.
fn reply_icmp_type(proto: u8, t: u8) -> u8 {
    match (proto, t) {
        (proto::ICMP, 8) => 0,
        (proto::ICMP, 0) => 8,
        (proto::ICMPV6, 128) => 129,
        (proto::ICMPV6, 129) => 128,
        _ => t,
    }
}

/// The flow key of a parsed packet, as [`FlowKey`] documents it: TCP and
/// UDP ports; for ICMP echo both ports are the identifier; other ICMP has
/// ports 0 and `icmp` set; other protocols, and non-first fragments (which
/// carry no ports), have ports 0. `None` when the frame is not IP.
pub fn flow_key(p: &wire::ParsedPacket) -> Option<FlowKey> {
    let l3 = p.l3?;
    let (src_port, dst_port, icmp) = match p.l4 {
        Some(wire::L4Info::Tcp {
            src_port, dst_port, ..
        })
        | Some(wire::L4Info::Udp { src_port, dst_port }) => (src_port, dst_port, None),
        Some(wire::L4Info::Icmp {
            icmp_type,
            code,
            echo_id,
        }) => {
            let id = echo_id.unwrap_or(0);
            (id, id, Some((icmp_type, code)))
        }
        None => (0, 0, None),
    };
    Some(FlowKey {
        proto: l3.proto,
        src: l3.src,
        dst: l3.dst,
        src_port,
        dst_port,
        icmp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_swaps_and_maps_echo() {
        let k = FlowKey {
            proto: proto::ICMP,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 7,
            dst_port: 7,
            icmp: Some((8, 0)),
        };
        let r = k.reverse();
        assert_eq!(r.src, k.dst);
        assert_eq!(r.icmp, Some((0, 0)));
        assert_eq!(r.reverse(), k);
    }

    #[test]
    fn words_round_trip_and_reverse() {
        let keys = [
            FlowKey {
                proto: proto::ICMP,
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 7,
                dst_port: 7,
                icmp: Some((8, 0)),
            },
            FlowKey {
                proto: proto::TCP,
                src: "fd00::1".parse().unwrap(),
                dst: "2001:db8::ffff:1".parse().unwrap(),
                src_port: 40000,
                dst_port: 443,
                icmp: None,
            },
            // An IPv4 key and the IPv6 key whose words would otherwise match.
            FlowKey {
                proto: proto::UDP,
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 1,
                dst_port: 2,
                icmp: None,
            },
            FlowKey {
                proto: proto::UDP,
                src: "::10.0.0.1".parse().unwrap(),
                dst: "::10.0.0.2".parse().unwrap(),
                src_port: 1,
                dst_port: 2,
                icmp: None,
            },
            FlowKey {
                proto: proto::ICMPV6,
                src: "fd00::1".parse().unwrap(),
                dst: "fd00::2".parse().unwrap(),
                src_port: 9,
                dst_port: 9,
                icmp: Some((129, 3)),
            },
        ];
        for k in keys {
            assert_eq!(FlowKey::from_words(&k.words()), k);
            assert_eq!(reverse_words(&k.words()), k.reverse().words(), "{k:?}");
        }
        assert_ne!(keys[2].words(), keys[3].words());
    }
}
