//! Neighbor Discovery (RFC 4861): the four messages the virtual gateway
//! answers or sends (RS, RA, NS, NA) and the options they carry.
//!
//! Layouts after the common type/code/checksum (offsets from the start of
//! the ICMPv6 message):
//! - RS: reserved (4..8), options at 8.
//! - RA: cur hop limit (4), M|O flags (5), router lifetime (6..8),
//!   reachable time (8..12), retrans timer (12..16), options at 16.
//! - NS: reserved (4..8), target (8..24), options at 24.
//! - NA: R|S|O flags (4), reserved (5..8), target (8..24), options at 24.
//!
//! RFC 4861's check that the IPv6 hop limit is 255 (the message was not
//! forwarded) belongs to the caller, which has the IPv6 header.

use std::net::Ipv6Addr;

use super::field::{
    ipv6_at, mac_at, put, put_u16, put_u32, put_u8, slice, u16_at, u32_at, u8_at, Writer,
};
use super::icmpv6::{msg_type, Icmpv6Packet};
use super::{MacAddr, Result, WireError};

const HOP_LIMIT: usize = 4;
const RA_FLAGS: usize = 5;
const ROUTER_LIFETIME: usize = 6;
const REACHABLE_TIME: usize = 8;
const RETRANS_TIME: usize = 12;
const NA_FLAGS: usize = 4;
const TARGET: usize = 8;

const RS_LEN: usize = 8;
const RA_LEN: usize = 16;
const NS_NA_LEN: usize = 24;

const RA_MANAGED: u8 = 0x80;
const RA_OTHER: u8 = 0x40;
const NA_ROUTER: u8 = 0x80;
const NA_SOLICITED: u8 = 0x40;
const NA_OVERRIDE: u8 = 0x20;

/// NDP option types.
pub mod option_type {
    /// Source link-layer address.
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LL_ADDR: u8 = 2;
    /// Prefix information.
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected header.
    pub const REDIRECTED_HEADER: u8 = 4;
    /// MTU.
    pub const MTU: u8 = 5;
}

const PREFIX_ON_LINK: u8 = 0x80;
const PREFIX_AUTONOMOUS: u8 = 0x40;

/// The NDP fields of an ICMPv6 message; meaningful only for the matching type.
impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// RA: current hop limit.
    pub fn cur_hop_limit(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HOP_LIMIT)
    }

    /// RA: the M (managed address configuration) flag.
    pub fn ra_managed(&self) -> bool {
        u8_at(self.buffer.as_ref(), RA_FLAGS) & RA_MANAGED != 0
    }

    /// RA: the O (other configuration) flag.
    pub fn ra_other(&self) -> bool {
        u8_at(self.buffer.as_ref(), RA_FLAGS) & RA_OTHER != 0
    }

    /// RA: router lifetime in seconds (0: not a default router).
    pub fn router_lifetime(&self) -> u16 {
        u16_at(self.buffer.as_ref(), ROUTER_LIFETIME)
    }

    /// RA: reachable time in milliseconds.
    pub fn reachable_time(&self) -> u32 {
        u32_at(self.buffer.as_ref(), REACHABLE_TIME)
    }

    /// RA: retransmission timer in milliseconds.
    pub fn retrans_time(&self) -> u32 {
        u32_at(self.buffer.as_ref(), RETRANS_TIME)
    }

    /// NS/NA: target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        ipv6_at(self.buffer.as_ref(), TARGET)
    }

    /// NA: the R, S and O flags as (router, solicited, override).
    pub fn na_flags(&self) -> (bool, bool, bool) {
        let f = u8_at(self.buffer.as_ref(), NA_FLAGS);
        (
            f & NA_ROUTER != 0,
            f & NA_SOLICITED != 0,
            f & NA_OVERRIDE != 0,
        )
    }

    /// The NDP options of an RS, RA, NS or NA (empty for other types).
    pub fn ndp_options(&self) -> NdpOptionIter<'_> {
        let start = match self.msg_type() {
            msg_type::ROUTER_SOLICIT => RS_LEN,
            msg_type::ROUTER_ADVERT => RA_LEN,
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => NS_NA_LEN,
            _ => usize::MAX,
        };
        NdpOptionIter {
            data: self.buffer.as_ref().get(start..).unwrap_or(&[]),
            pos: 0,
            done: false,
        }
    }
}

/// The Prefix Information option (RFC 4861 section 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpPrefixInfo {
    /// Prefix length in bits.
    pub prefix_len: u8,
    /// L: the prefix is on-link.
    pub on_link: bool,
    /// A: the prefix may be used for SLAAC.
    pub autonomous: bool,
    /// Valid lifetime in seconds.
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// The prefix.
    pub prefix: Ipv6Addr,
}

/// One NDP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpOption<'a> {
    /// Source link-layer address (type 1).
    SourceLinkLayerAddr(MacAddr),
    /// Target link-layer address (type 2).
    TargetLinkLayerAddr(MacAddr),
    /// Prefix information (type 3).
    PrefixInformation(NdpPrefixInfo),
    /// MTU (type 5).
    Mtu(u32),
    /// Any other type, with its body (after type and length).
    Unknown {
        /// Option type.
        kind: u8,
        /// Option body.
        data: &'a [u8],
    },
}

impl NdpOption<'_> {
    /// Length on the wire (a multiple of 8).
    pub fn buffer_len(&self) -> usize {
        match self {
            NdpOption::SourceLinkLayerAddr(_) | NdpOption::TargetLinkLayerAddr(_) => 8,
            NdpOption::PrefixInformation(_) => 32,
            NdpOption::Mtu(_) => 8,
            NdpOption::Unknown { data, .. } => (data.len() + 2).div_ceil(8) * 8,
        }
    }

    /// Writes the option at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let units =
            u8::try_from(len / 8).map_err(|_| WireError::Malformed("NDP option too long"))?;
        let b = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        b.fill(0);
        let kind = match self {
            NdpOption::SourceLinkLayerAddr(mac) => {
                put(b, 2, &mac.0);
                option_type::SOURCE_LL_ADDR
            }
            NdpOption::TargetLinkLayerAddr(mac) => {
                put(b, 2, &mac.0);
                option_type::TARGET_LL_ADDR
            }
            NdpOption::PrefixInformation(pi) => {
                put_u8(b, 2, pi.prefix_len);
                let mut flags = 0;
                if pi.on_link {
                    flags |= PREFIX_ON_LINK;
                }
                if pi.autonomous {
                    flags |= PREFIX_AUTONOMOUS;
                }
                put_u8(b, 3, flags);
                put_u32(b, 4, pi.valid_lifetime);
                put_u32(b, 8, pi.preferred_lifetime);
                put(b, 16, &pi.prefix.octets());
                option_type::PREFIX_INFO
            }
            NdpOption::Mtu(mtu) => {
                put_u32(b, 4, *mtu);
                option_type::MTU
            }
            NdpOption::Unknown { kind, data } => {
                put(b, 2, data);
                *kind
            }
        };
        put_u8(b, 0, kind);
        put_u8(b, 1, units);
        Ok(len)
    }
}

/// Iterates over NDP options; stops after the first error.
#[derive(Debug, Clone)]
pub struct NdpOptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> NdpOptionIter<'a> {
    /// Iterates over a raw options area.
    pub fn new(data: &'a [u8]) -> Self {
        NdpOptionIter {
            data,
            pos: 0,
            done: false,
        }
    }

    fn parse_next(&mut self) -> Result<NdpOption<'a>> {
        let head = slice(self.data, self.pos, 2)?;
        let kind = u8_at(head, 0);
        let len = usize::from(u8_at(head, 1)) * 8;
        if len == 0 {
            // RFC 4861 4.6: a zero length would loop forever; discard.
            return Err(WireError::Malformed("NDP option length 0"));
        }
        let opt = slice(self.data, self.pos, len)?;
        self.pos += len;
        let ll_addr = |opt: &[u8]| -> Result<MacAddr> {
            if opt.len() != 8 {
                return Err(WireError::Unsupported("non-Ethernet link-layer address"));
            }
            Ok(mac_at(opt, 2))
        };
        Ok(match kind {
            option_type::SOURCE_LL_ADDR => NdpOption::SourceLinkLayerAddr(ll_addr(opt)?),
            option_type::TARGET_LL_ADDR => NdpOption::TargetLinkLayerAddr(ll_addr(opt)?),
            option_type::PREFIX_INFO => {
                if opt.len() != 32 {
                    return Err(WireError::Malformed("NDP prefix information length"));
                }
                let flags = u8_at(opt, 3);
                NdpOption::PrefixInformation(NdpPrefixInfo {
                    prefix_len: u8_at(opt, 2),
                    on_link: flags & PREFIX_ON_LINK != 0,
                    autonomous: flags & PREFIX_AUTONOMOUS != 0,
                    valid_lifetime: u32_at(opt, 4),
                    preferred_lifetime: u32_at(opt, 8),
                    prefix: ipv6_at(opt, 16),
                })
            }
            option_type::MTU => {
                if opt.len() != 8 {
                    return Err(WireError::Malformed("NDP MTU length"));
                }
                NdpOption::Mtu(u32_at(opt, 4))
            }
            kind => NdpOption::Unknown {
                kind,
                data: opt.get(2..).unwrap_or(&[]),
            },
        })
    }
}

impl<'a> Iterator for NdpOptionIter<'a> {
    type Item = Result<NdpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let r = self.parse_next();
        self.done = r.is_err();
        Some(r)
    }
}

/// A parsed NDP message. Unknown options are skipped; of repeated options
/// the first is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpRepr {
    /// Router solicitation (133).
    RouterSolicit {
        /// The source link-layer address option.
        lladdr: Option<MacAddr>,
    },
    /// Router advertisement (134).
    RouterAdvert {
        /// Hop limit hosts should use (0: unspecified).
        hop_limit: u8,
        /// M: addresses are available through DHCPv6.
        managed: bool,
        /// O: other configuration is available through DHCPv6.
        other: bool,
        /// Router lifetime in seconds (0: not a default router).
        router_lifetime: u16,
        /// Reachable time in milliseconds (0: unspecified).
        reachable_time: u32,
        /// Retransmission timer in milliseconds (0: unspecified).
        retrans_time: u32,
        /// The source link-layer address option.
        lladdr: Option<MacAddr>,
        /// The MTU option.
        mtu: Option<u32>,
        /// The (first) prefix information option.
        prefix_info: Option<NdpPrefixInfo>,
    },
    /// Neighbor solicitation (135).
    NeighborSolicit {
        /// The address being resolved.
        target_addr: Ipv6Addr,
        /// The source link-layer address option.
        lladdr: Option<MacAddr>,
    },
    /// Neighbor advertisement (136).
    NeighborAdvert {
        /// R: the sender is a router.
        router: bool,
        /// S: sent in response to a solicitation.
        solicited: bool,
        /// O: override an existing cache entry.
        override_flag: bool,
        /// The address advertised.
        target_addr: Ipv6Addr,
        /// The target link-layer address option.
        lladdr: Option<MacAddr>,
    },
}

impl NdpRepr {
    /// Parses an NDP message; the checksum is [`super::Icmpv6Repr::parse`]'s.
    pub fn parse<T: AsRef<[u8]>>(p: &Icmpv6Packet<T>) -> Result<NdpRepr> {
        let len = p.buffer.as_ref().len();
        if p.msg_code() != 0 {
            return Err(WireError::Malformed("NDP code"));
        }
        let min = match p.msg_type() {
            msg_type::ROUTER_SOLICIT => RS_LEN,
            msg_type::ROUTER_ADVERT => RA_LEN,
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => NS_NA_LEN,
            _ => return Err(WireError::Unsupported("NDP type")),
        };
        if len < min {
            return Err(WireError::Truncated);
        }
        let mut source = None;
        let mut target = None;
        let mut mtu = None;
        let mut prefix_info = None;
        for opt in p.ndp_options() {
            match opt? {
                NdpOption::SourceLinkLayerAddr(m) => {
                    source.get_or_insert(m);
                }
                NdpOption::TargetLinkLayerAddr(m) => {
                    target.get_or_insert(m);
                }
                NdpOption::Mtu(v) => {
                    mtu.get_or_insert(v);
                }
                NdpOption::PrefixInformation(pi) => {
                    prefix_info.get_or_insert(pi);
                }
                NdpOption::Unknown { .. } => {}
            }
        }
        Ok(match p.msg_type() {
            msg_type::ROUTER_SOLICIT => NdpRepr::RouterSolicit { lladdr: source },
            msg_type::ROUTER_ADVERT => NdpRepr::RouterAdvert {
                hop_limit: p.cur_hop_limit(),
                managed: p.ra_managed(),
                other: p.ra_other(),
                router_lifetime: p.router_lifetime(),
                reachable_time: p.reachable_time(),
                retrans_time: p.retrans_time(),
                lladdr: source,
                mtu,
                prefix_info,
            },
            msg_type::NEIGHBOR_SOLICIT => {
                let target_addr = p.target_addr();
                if target_addr.is_multicast() {
                    return Err(WireError::Malformed("NS target is multicast"));
                }
                NdpRepr::NeighborSolicit {
                    target_addr,
                    lladdr: source,
                }
            }
            _ => {
                let (router, solicited, override_flag) = p.na_flags();
                NdpRepr::NeighborAdvert {
                    router,
                    solicited,
                    override_flag,
                    target_addr: p.target_addr(),
                    lladdr: target,
                }
            }
        })
    }

    /// The options this message carries, in emit order.
    fn options(&self) -> [Option<NdpOption<'static>>; 3] {
        match *self {
            NdpRepr::RouterSolicit { lladdr } | NdpRepr::NeighborSolicit { lladdr, .. } => {
                [lladdr.map(NdpOption::SourceLinkLayerAddr), None, None]
            }
            NdpRepr::NeighborAdvert { lladdr, .. } => {
                [lladdr.map(NdpOption::TargetLinkLayerAddr), None, None]
            }
            NdpRepr::RouterAdvert {
                lladdr,
                mtu,
                prefix_info,
                ..
            } => [
                lladdr.map(NdpOption::SourceLinkLayerAddr),
                mtu.map(NdpOption::Mtu),
                prefix_info.map(NdpOption::PrefixInformation),
            ],
        }
    }

    /// The whole ICMPv6 message's length, options included.
    pub fn buffer_len(&self) -> usize {
        let base = match self {
            NdpRepr::RouterSolicit { .. } => RS_LEN,
            NdpRepr::RouterAdvert { .. } => RA_LEN,
            NdpRepr::NeighborSolicit { .. } | NdpRepr::NeighborAdvert { .. } => NS_NA_LEN,
        };
        base + self
            .options()
            .iter()
            .flatten()
            .map(NdpOption::buffer_len)
            .sum::<usize>()
    }

    /// Writes the message with a zero checksum: [`super::Icmpv6Repr::emit`]
    /// fills it, as it needs the IPv6 addresses.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Icmpv6Packet<T>) -> Result<()> {
        let total = self.buffer_len();
        let b = p
            .buffer
            .as_mut()
            .get_mut(..total)
            .ok_or(WireError::Truncated)?;
        b.fill(0);
        let start = match *self {
            NdpRepr::RouterSolicit { .. } => {
                put_u8(b, 0, msg_type::ROUTER_SOLICIT);
                RS_LEN
            }
            NdpRepr::RouterAdvert {
                hop_limit,
                managed,
                other,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                put_u8(b, 0, msg_type::ROUTER_ADVERT);
                put_u8(b, HOP_LIMIT, hop_limit);
                let mut flags = 0;
                if managed {
                    flags |= RA_MANAGED;
                }
                if other {
                    flags |= RA_OTHER;
                }
                put_u8(b, RA_FLAGS, flags);
                put_u16(b, ROUTER_LIFETIME, router_lifetime);
                put_u32(b, REACHABLE_TIME, reachable_time);
                put_u32(b, RETRANS_TIME, retrans_time);
                RA_LEN
            }
            NdpRepr::NeighborSolicit { target_addr, .. } => {
                put_u8(b, 0, msg_type::NEIGHBOR_SOLICIT);
                put(b, TARGET, &target_addr.octets());
                NS_NA_LEN
            }
            NdpRepr::NeighborAdvert {
                router,
                solicited,
                override_flag,
                target_addr,
                ..
            } => {
                put_u8(b, 0, msg_type::NEIGHBOR_ADVERT);
                let mut flags = 0;
                if router {
                    flags |= NA_ROUTER;
                }
                if solicited {
                    flags |= NA_SOLICITED;
                }
                if override_flag {
                    flags |= NA_OVERRIDE;
                }
                put_u8(b, NA_FLAGS, flags);
                put(b, TARGET, &target_addr.octets());
                NS_NA_LEN
            }
        };
        let mut w = Writer::new(b, start);
        for opt in self.options().iter().flatten() {
            let mut tmp = [0u8; 32];
            let n = opt.emit(&mut tmp)?;
            w.bytes(tmp.get(..n).unwrap_or(&[]))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmpv6::Icmpv6Repr;

    fn round_trip(r: NdpRepr) -> Vec<u8> {
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "ff02::1".parse().unwrap();
        let icmp = Icmpv6Repr::Ndp(r);
        let mut b = vec![0u8; icmp.buffer_len()];
        icmp.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]))
            .unwrap();
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&s, &d, &p).unwrap(), icmp);
        b
    }

    #[test]
    fn router_advert_bytes() {
        let mac = MacAddr([0xa8, 0x40, 0x25, 0xff, 0x00, 0x01]);
        let ra = NdpRepr::RouterAdvert {
            hop_limit: 64,
            managed: true,
            other: true,
            router_lifetime: 9000,
            reachable_time: 0,
            retrans_time: 0,
            lladdr: Some(mac),
            mtu: Some(1500),
            prefix_info: Some(NdpPrefixInfo {
                prefix_len: 64,
                on_link: true,
                autonomous: false,
                valid_lifetime: 0xffff_ffff,
                preferred_lifetime: 0xffff_ffff,
                prefix: "fd00:1234::".parse().unwrap(),
            }),
        };
        let b = round_trip(ra);
        assert_eq!(b.len(), 16 + 8 + 8 + 32);
        // Type 134, code 0; hop limit 64, M|O, lifetime 9000 (0x2328).
        assert_eq!(&b[..2], &[134, 0]);
        assert_eq!(&b[4..8], &[64, 0xc0, 0x23, 0x28]);
        // Source LL option: type 1, length 1 (8 octets), MAC.
        assert_eq!(&b[16..24], &[1, 1, 0xa8, 0x40, 0x25, 0xff, 0x00, 0x01]);
        // MTU option: type 5, length 1, reserved 2 bytes, MTU 1500.
        assert_eq!(&b[24..32], &[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        // Prefix info: type 3, length 4, prefix len 64, L flag.
        assert_eq!(&b[32..36], &[3, 4, 64, 0x80]);
        assert_eq!(&b[48..52], &[0xfd, 0x00, 0x12, 0x34]);
    }

    #[test]
    fn solicitations_and_adverts() {
        let mac = MacAddr([2, 8, 0x20, 1, 2, 3]);
        round_trip(NdpRepr::RouterSolicit { lladdr: Some(mac) });
        round_trip(NdpRepr::RouterSolicit { lladdr: None });
        let ns = round_trip(NdpRepr::NeighborSolicit {
            target_addr: "fd00::1".parse().unwrap(),
            lladdr: Some(mac),
        });
        assert_eq!(ns.len(), 32);
        assert_eq!(&ns[24..26], &[1, 1]);
        let na = round_trip(NdpRepr::NeighborAdvert {
            router: true,
            solicited: true,
            override_flag: false,
            target_addr: "fd00::1".parse().unwrap(),
            lladdr: Some(mac),
        });
        assert_eq!(na[4], 0xc0);
        assert_eq!(&na[24..26], &[2, 1]);
    }

    #[test]
    fn option_errors() {
        let zero_len = [1u8, 0, 0, 0, 0, 0, 0, 0];
        let r: Vec<_> = NdpOptionIter::new(&zero_len).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
        let truncated = [3u8, 4, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            NdpOptionIter::new(&truncated).next().unwrap().unwrap_err(),
            WireError::Truncated
        );
        let unknown = [14u8, 1, 1, 2, 3, 4, 5, 6];
        assert_eq!(
            NdpOptionIter::new(&unknown).next().unwrap().unwrap(),
            NdpOption::Unknown {
                kind: 14,
                data: &[1, 2, 3, 4, 5, 6]
            }
        );
    }
}
