//! In-place address and port translation of a frame, with incremental
//! checksum updates, and the translation of the packet an ICMP error quotes.
//!
//! The port of ICMP echo is its identifier (docs/VPC-MODEL.md, *Flow tables*), so an
//! echo's identifier is rewritten where a transport port would be.

use crate::proto;
use std::net::IpAddr;
use wire::checksum;

/// Which end of a packet to translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The source address and port.
    Src,
    /// The destination address and port.
    Dst,
}

/// Where the headers of an IP packet are, as translation needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    l3: usize,
    l4: usize,
    v4: bool,
    proto: u8,
    /// A non-first IPv4 fragment: no transport header to touch.
    fragment: bool,
}

use crate::frame::offsets::{be16, put16};

/// The IP header of an Ethernet frame (untagged or one 802.1Q tag).
fn frame_layout(f: &[u8]) -> Option<Layout> {
    let (ethertype, l3) = match be16(f, 12)? {
        0x8100 => (be16(f, 16)?, 18),
        t => (t, 14),
    };
    ip_layout(f, l3, ethertype)
}

/// The layout of the IP packet at `l3`. IPv6 with extension headers is not
/// translated (the caller drops it as unsupported).
fn ip_layout(f: &[u8], l3: usize, ethertype: u16) -> Option<Layout> {
    match ethertype {
        0x0800 => {
            let vihl = *f.get(l3)?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            if vihl >> 4 != 4 || ihl < 20 || f.len() < l3 + ihl {
                return None;
            }
            let frag = be16(f, l3 + 6)? & 0x1fff != 0;
            Some(Layout {
                l3,
                l4: l3 + ihl,
                v4: true,
                proto: *f.get(l3 + 9)?,
                fragment: frag,
            })
        }
        0x86dd => {
            if *f.get(l3)? >> 4 != 6 || f.len() < l3 + 40 {
                return None;
            }
            let nh = *f.get(l3 + 6)?;
            matches!(nh, proto::TCP | proto::UDP | proto::ICMPV6).then_some(Layout {
                l3,
                l4: l3 + 40,
                v4: false,
                proto: nh,
                fragment: false,
            })
        }
        _ => None,
    }
}

/// Offset of the checksum within the transport header, and whether it covers
/// the pseudo-header (and so the addresses).
fn l4_checksum(l: &Layout) -> Option<(usize, bool)> {
    match l.proto {
        proto::TCP => Some((16, true)),
        proto::UDP => Some((6, true)),
        proto::ICMP => Some((2, false)),
        proto::ICMPV6 => Some((2, true)),
        _ => None,
    }
}

/// Offset of the field that plays the port at `end` within the transport
/// header: TCP/UDP ports, the identifier of an ICMP echo request or reply.
fn port_field(f: &[u8], l: &Layout, end: End) -> Option<usize> {
    match l.proto {
        proto::TCP | proto::UDP => Some(if end == End::Src { 0 } else { 2 }),
        proto::ICMP => matches!(*f.get(l.l4)?, 0 | 8).then_some(4),
        proto::ICMPV6 => matches!(*f.get(l.l4)?, 128 | 129).then_some(4),
        _ => None,
    }
}

/// Rewrites the address (and the port, when given and the packet has one) at
/// `end` of the IP packet in frame `f`, keeping every checksum right.
/// Returns false, leaving the frame untouched, when the frame is not an IP
/// packet of `ip`'s family that this translation handles.
pub fn rewrite(f: &mut [u8], end: End, ip: IpAddr, port: Option<u16>) -> bool {
    match frame_layout(f) {
        Some(l) => rewrite_at(f, &l, end, ip, port).is_some(),
        None => false,
    }
}

fn rewrite_at(f: &mut [u8], l: &Layout, end: End, ip: IpAddr, port: Option<u16>) -> Option<()> {
    // Fixed buffers: this runs on every packet of a translated flow.
    let mut new_buf = [0u8; 16];
    let alen = match (ip, l.v4) {
        (IpAddr::V4(a), true) => {
            new_buf[..4].copy_from_slice(&a.octets());
            4
        }
        (IpAddr::V6(a), false) => {
            new_buf.copy_from_slice(&a.octets());
            16
        }
        _ => return None,
    };
    let new = new_buf.get(..alen)?;
    let addr_at = match (l.v4, end) {
        (true, End::Src) => l.l3 + 12,
        (true, End::Dst) => l.l3 + 16,
        (false, End::Src) => l.l3 + 8,
        (false, End::Dst) => l.l3 + 24,
    };
    let mut old_buf = [0u8; 16];
    old_buf
        .get_mut(..alen)?
        .copy_from_slice(f.get(addr_at..addr_at + alen)?);
    let old = old_buf.get(..alen)?;
    // A quoted packet may be cut short after 8 bytes of transport header:
    // only fields that are present are touched.
    let has_l4 = !l.fragment && f.len() >= l.l4 + 8;
    let csum = if has_l4 { l4_checksum(l) } else { None };
    let pf = if has_l4 { port_field(f, l, end) } else { None };
    // Address, then port; each checksum takes the change (RFC 1624).
    let udp = l.proto == proto::UDP;
    f.get_mut(addr_at..addr_at + alen)?.copy_from_slice(new);
    let d = checksum::fold(delta(old, new));
    if l.v4 {
        adjust(f, l.l3 + 10, d, false);
    }
    if let Some((off, true)) = csum {
        adjust(f, l.l4 + off, d, udp);
    }
    if let (Some(p), Some(pat)) = (port, pf) {
        let at = l.l4 + pat;
        let old_p = be16(f, at)?;
        put16(f, at, p)?;
        if let Some((off, _)) = csum {
            let dp = checksum::fold(delta(&old_p.to_be_bytes(), &p.to_be_bytes()));
            adjust(f, l.l4 + off, dp, udp);
        }
    }
    Some(())
}

/// A flow's source translation compiled for the fast path: the new address
/// and port bytes and the checksum adjustments they imply, computed once
/// from the flow's fixed old values (RFC 1624), so a packet costs a few
/// stores and two one's-complement additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrcRewrite {
    addr: [u8; 16],
    /// The new port (or echo id).
    port: u16,
    /// Adjustment of the IPv4 header checksum.
    ip_delta: u16,
    /// Adjustment of the transport checksum.
    l4_delta: u16,
    /// Where `port` goes in the transport header ([`NOWHERE`]: no port).
    port_at: u8,
    /// Where the transport checksum is ([`NOWHERE`]: none to adjust).
    csum_at: u8,
    v4: bool,
    /// UDP: a zero checksum (none, over IPv4) stays zero; a computed zero is sent as all ones.
    udp: bool,
}

/// An offset of [`SrcRewrite`] that is not there. With offsets in bytes
/// rather than `Option<(u16, usize)>`s the rewrite takes 26 bytes, not 72,
/// and a flow's NAT state (binding and rewrite) about one cache line.
const NOWHERE: u8 = u8::MAX;

/// The one's-complement sum of `new` minus that of `old`, folded: what a
/// checksum over data changing from `old` to `new` must take in.
fn delta(old: &[u8], new: &[u8]) -> u32 {
    u32::from(!checksum::fold(checksum::sum(old))) + checksum::sum(new)
}

impl SrcRewrite {
    /// The rewrite of the source of `guest`'s packets to `ip` (and `port`,
    /// for a flow with ports); `None` when the families differ.
    pub fn compile(guest: &crate::FlowKey, ip: IpAddr, port: Option<u16>) -> Option<Self> {
        let mut addr = [0u8; 16];
        let (v4, ip_d) = match (guest.src, ip) {
            (IpAddr::V4(o), IpAddr::V4(n)) => {
                addr[..4].copy_from_slice(&n.octets());
                (true, delta(&o.octets(), &n.octets()))
            }
            (IpAddr::V6(o), IpAddr::V6(n)) => {
                addr = n.octets();
                (false, delta(&o.octets(), &n.octets()))
            }
            _ => return None,
        };
        let echo = matches!(guest.icmp, Some((0 | 8, _)) | Some((128 | 129, _)));
        let (port_at, csum_at, pseudo) = match guest.proto {
            proto::TCP => (Some(0), Some(16), true),
            proto::UDP => (Some(0), Some(6), true),
            proto::ICMP => (echo.then_some(4), Some(2), false),
            proto::ICMPV6 => (echo.then_some(4), Some(2), true),
            _ => (None, None, false),
        };
        let port = port.zip(port_at);
        let mut l4_d = if pseudo { ip_d } else { 0 };
        if let Some((p, _)) = port {
            l4_d += delta(&guest.src_port.to_be_bytes(), &p.to_be_bytes());
        }
        Some(SrcRewrite {
            addr,
            port: port.map_or(0, |(p, _)| p),
            ip_delta: checksum::fold(ip_d),
            l4_delta: checksum::fold(l4_d),
            port_at: port.map_or(NOWHERE, |(_, at)| at),
            csum_at: csum_at.unwrap_or(NOWHERE),
            v4,
            udp: guest.proto == proto::UDP,
        })
    }

    /// Applies the rewrite to an untagged frame whose IP header has no
    /// options or extension headers (the fast path's frames); any other
    /// frame takes the general [`rewrite`]. False when neither applies.
    #[inline]
    pub fn apply(&self, f: &mut [u8]) -> bool {
        let (addr_at, l4, alen) = match (f.get(12..15), self.v4) {
            (Some([0x08, 0x00, 0x45]), true) => (26, 34, 4),
            (Some([0x86, 0xdd, v]), false) if v >> 4 == 6 => (22, 54, 16),
            _ => return self.apply_general(f),
        };
        if f.len() < l4 + 8
            || (!self.v4
                && f.get(20)
                    .is_some_and(|nh| !matches!(*nh, proto::TCP | proto::UDP | proto::ICMPV6)))
        {
            return self.apply_general(f);
        }
        let (Some(dst), Some(src)) = (f.get_mut(addr_at..addr_at + alen), self.addr.get(..alen))
        else {
            return false;
        };
        dst.copy_from_slice(src);
        if self.v4 {
            adjust(f, 24, self.ip_delta, false);
        }
        if self.port_at != NOWHERE && put16(f, l4 + self.port_at as usize, self.port).is_none() {
            return false;
        }
        if self.csum_at != NOWHERE {
            adjust(f, l4 + self.csum_at as usize, self.l4_delta, self.udp);
        }
        true
    }

    fn apply_general(&self, f: &mut [u8]) -> bool {
        let ip = if self.v4 {
            IpAddr::from([self.addr[0], self.addr[1], self.addr[2], self.addr[3]])
        } else {
            IpAddr::from(self.addr)
        };
        let port = (self.port_at != NOWHERE).then_some(self.port);
        rewrite(f, End::Src, ip, port)
    }
}

/// Adds `d` to the checksum at `at` (RFC 1624 eqn. 3); a UDP checksum of 0
/// (none) is left alone and a computed 0 becomes all ones.
#[inline(always)]
fn adjust(f: &mut [u8], at: usize, d: u16, udp: bool) {
    if let Some(c) = be16(f, at) {
        if udp && c == 0 {
            return;
        }
        // Two 16-bit values: one carry fold is enough.
        let sum = u32::from(!c) + u32::from(d);
        let mut n = !(((sum & 0xffff) + (sum >> 16)) as u16);
        if udp && n == 0 {
            n = 0xffff;
        }
        let _ = put16(f, at, n);
    }
}

/// An ICMP error (destination unreachable, time exceeded, parameter
/// problem; for ICMPv6 also packet too big) and where its quoted packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// The quoted packet's addresses, protocol and ports (or echo id), in the
    /// quoted packet's own orientation.
    pub quoted: crate::FlowKey,
}

fn is_error(v4: bool, icmp_type: u8) -> bool {
    if v4 {
        matches!(icmp_type, 3 | 11 | 12)
    } else {
        matches!(icmp_type, 1..=4)
    }
}

fn quoted_layout(f: &[u8], outer: &Layout) -> Option<Layout> {
    let q = outer.l4 + 8;
    let l = ip_layout(f, q, if outer.v4 { 0x0800 } else { 0x86dd })?;
    // The quote holds at least the first 8 bytes of the transport header.
    (f.len() >= l.l4 + 8 && !l.fragment).then_some(l)
}

/// If frame `f` is an ICMP error, the packet it quotes.
pub fn icmp_error(f: &[u8]) -> Option<IcmpError> {
    let outer = frame_layout(f)?;
    let icmp_proto = if outer.v4 { proto::ICMP } else { proto::ICMPV6 };
    if outer.proto != icmp_proto || outer.fragment || !is_error(outer.v4, *f.get(outer.l4)?) {
        return None;
    }
    let q = quoted_layout(f, &outer)?;
    let addr = |at: usize, v4: bool| -> Option<IpAddr> {
        Some(if v4 {
            let b: [u8; 4] = f.get(at..at + 4)?.try_into().ok()?;
            IpAddr::from(b)
        } else {
            let b: [u8; 16] = f.get(at..at + 16)?.try_into().ok()?;
            IpAddr::from(b)
        })
    };
    let (src, dst) = if q.v4 {
        (addr(q.l3 + 12, true)?, addr(q.l3 + 16, true)?)
    } else {
        (addr(q.l3 + 8, false)?, addr(q.l3 + 24, false)?)
    };
    let (src_port, dst_port, icmp) = match q.proto {
        proto::TCP | proto::UDP => (be16(f, q.l4)?, be16(f, q.l4 + 2)?, None),
        proto::ICMP | proto::ICMPV6 => {
            let t = *f.get(q.l4)?;
            let id = be16(f, q.l4 + 4)?;
            (id, id, Some((t, *f.get(q.l4 + 1)?)))
        }
        _ => (0, 0, None),
    };
    Some(IcmpError {
        quoted: crate::FlowKey {
            proto: q.proto,
            src,
            dst,
            src_port,
            dst_port,
            icmp,
        },
    })
}

/// Translates an ICMP error: the outer packet's `outer_end` address becomes
/// `outer_ip`, and the quoted packet's `quoted_end` address and port become
/// `quoted_ip` and `quoted_port`; the quoted IPv4 header checksum and the
/// ICMP checksum are recomputed. Returns false (frame unchanged in the
/// outer part) when `f` is not an ICMP error of that family.
pub fn rewrite_icmp_error(
    f: &mut [u8],
    outer_end: End,
    outer_ip: IpAddr,
    quoted_end: End,
    quoted_ip: IpAddr,
    quoted_port: Option<u16>,
) -> bool {
    (|| -> Option<()> {
        let outer = frame_layout(f)?;
        let q = quoted_layout(f, &outer)?;
        // The quoted packet first: its own checksums move with it, and the
        // ICMP checksum is recomputed over the result below.
        rewrite_at(f, &q, quoted_end, quoted_ip, quoted_port)?;
        if q.v4 {
            let hl = q.l4 - q.l3;
            put16(f, q.l3 + 10, 0)?;
            let c = checksum::checksum(f.get(q.l3..q.l3 + hl)?);
            put16(f, q.l3 + 10, c)?;
        }
        rewrite_at(f, &outer, outer_end, outer_ip, None)?;
        // ICMP checksum over the whole message (plus pseudo-header for v6).
        let end = if outer.v4 {
            outer.l3 + usize::from(be16(f, outer.l3 + 2)?)
        } else {
            outer.l4 + usize::from(be16(f, outer.l3 + 4)?)
        };
        let end = end.min(f.len());
        put16(f, outer.l4 + 2, 0)?;
        let msg = f.get(outer.l4..end)?;
        let mut s = checksum::sum(msg);
        if !outer.v4 {
            let src: [u8; 16] = f.get(outer.l3 + 8..outer.l3 + 24)?.try_into().ok()?;
            let dst: [u8; 16] = f.get(outer.l3 + 24..outer.l3 + 40)?.try_into().ok()?;
            s += checksum::pseudo_header_v6(
                &src.into(),
                &dst.into(),
                proto::ICMPV6,
                (end - outer.l4) as u32,
            );
        }
        put16(f, outer.l4 + 2, checksum::finish(s))?;
        Some(())
    })()
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn udp4(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src, dst, 64)
            .udp(sp, dp);
        let payload = b"hello nat";
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn tcp6(src: [u8; 16], sp: u16, dst: [u8; 16], dp: u16) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv6(src, dst, 64)
            .tcp(sp, dp, 1000, 4096)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, b"").unwrap();
        v
    }

    /// Recomputes every checksum with etherparse and compares.
    fn checksums_ok(f: &[u8]) -> bool {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        match (&p.net, &p.transport) {
            (Some(etherparse::NetSlice::Ipv4(v4)), Some(TransportSlice::Udp(u))) => {
                let h = v4.header().to_header();
                h.calc_header_checksum() == h.header_checksum
                    && u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap() == u.checksum()
            }
            (Some(etherparse::NetSlice::Ipv6(v6)), Some(TransportSlice::Tcp(t))) => {
                t.to_header()
                    .calc_checksum_ipv6(&v6.header().to_header(), t.payload())
                    .unwrap()
                    == t.checksum()
            }
            (Some(etherparse::NetSlice::Ipv4(v4)), Some(TransportSlice::Icmpv4(i))) => {
                let h = v4.header().to_header();
                h.calc_header_checksum() == h.header_checksum
                    && etherparse::Icmpv4Header::with_checksum(i.icmp_type(), i.payload()).checksum
                        == i.checksum()
            }
            _ => panic!("unexpected packet"),
        }
    }

    #[test]
    fn snat_of_udp4_keeps_checksums() {
        let mut f = udp4([172, 30, 0, 5], 40000, [8, 8, 8, 8], 53);
        assert!(rewrite(&mut f, End::Src, ip("10.77.77.13"), Some(1030)));
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(v4)) = &p.net else {
            panic!()
        };
        assert_eq!(v4.header().source(), [10, 77, 77, 13]);
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!()
        };
        assert_eq!((u.source_port(), u.destination_port()), (1030, 53));
        assert!(checksums_ok(&f));
        // And back (the reply's destination).
        let mut r = udp4([8, 8, 8, 8], 53, [10, 77, 77, 13], 1030);
        assert!(rewrite(&mut r, End::Dst, ip("172.30.0.5"), Some(40000)));
        assert_eq!(r, udp4([8, 8, 8, 8], 53, [172, 30, 0, 5], 40000));
    }

    #[test]
    fn tcp6_translation_keeps_checksum_and_family_mismatch_is_refused() {
        let a = "fd00::5".parse::<std::net::Ipv6Addr>().unwrap().octets();
        let b = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        let mut f = tcp6(a, 5000, b, 443);
        let before = f.clone();
        assert!(!rewrite(&mut f, End::Src, ip("192.0.2.1"), Some(1)));
        assert_eq!(
            f, before,
            "a refused translation leaves the frame as it was"
        );
        assert!(rewrite(&mut f, End::Src, ip("2001:db8:77::13"), Some(2001)));
        assert!(checksums_ok(&f));
        let e = "2001:db8:77::13"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        assert_eq!(f, tcp6(e, 2001, b, 443));
    }

    #[test]
    fn echo_identifier_is_the_port() {
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([172, 30, 0, 5], [1, 1, 1, 1], 64)
            .icmpv4_echo_request(0x1234, 7);
        let mut f = Vec::new();
        b.write(&mut f, b"ping").unwrap();
        assert!(rewrite(&mut f, End::Src, ip("192.168.0.2"), Some(0x4321)));
        assert!(checksums_ok(&f));
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([192, 168, 0, 2], [1, 1, 1, 1], 64)
            .icmpv4_echo_request(0x4321, 7);
        let mut want = Vec::new();
        b.write(&mut want, b"ping").unwrap();
        assert_eq!(f, want);
    }

    #[test]
    fn zero_udp4_checksum_stays_zero() {
        let mut f = udp4([172, 30, 0, 5], 1, [8, 8, 8, 8], 2);
        f[14 + 20 + 6] = 0;
        f[14 + 20 + 7] = 0;
        assert!(rewrite(&mut f, End::Src, ip("10.0.0.1"), Some(3)));
        assert_eq!(&f[40..42], &[0, 0]);
    }

    #[test]
    fn icmp_error_quote_is_translated_back() {
        // 8.8.8.8 says port unreachable about our SNAT'd UDP 10.77.77.13:1030 -> 8.8.8.8:53.
        let quoted = udp4([10, 77, 77, 13], 1030, [8, 8, 8, 8], 53);
        let ip_part = &quoted[14..];
        let b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([8, 8, 8, 8], [10, 77, 77, 13], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ));
        let mut f = Vec::new();
        b.write(&mut f, ip_part).unwrap();
        let e = icmp_error(&f).unwrap();
        assert_eq!(e.quoted.src, ip("10.77.77.13"));
        assert_eq!((e.quoted.src_port, e.quoted.dst_port), (1030, 53));
        assert!(rewrite_icmp_error(
            &mut f,
            End::Dst,
            ip("172.30.0.5"),
            End::Src,
            ip("172.30.0.5"),
            Some(40000)
        ));
        assert!(checksums_ok(&f));
        let inner = udp4([172, 30, 0, 5], 40000, [8, 8, 8, 8], 53);
        assert_eq!(
            &f[14 + 20 + 8..],
            &inner[14..],
            "the quote reads as the guest's packet"
        );
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(v4)) = &p.net else {
            panic!()
        };
        assert_eq!(v4.header().destination(), [172, 30, 0, 5]);
        // Not an error: no quote.
        assert!(icmp_error(&udp4([1, 1, 1, 1], 1, [2, 2, 2, 2], 2)).is_none());
    }

    #[test]
    fn compiled_rewrite_equals_the_general_one() {
        use crate::FlowKey;
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let mut frames: Vec<(Vec<u8>, IpAddr, Option<u16>)> = vec![
            (
                udp4([172, 30, 0, 5], 40000, [8, 8, 8, 8], 53),
                ip("10.77.77.13"),
                Some(1030),
            ),
            (
                udp4([172, 30, 0, 5], 1, [8, 8, 8, 8], 2),
                ip("198.51.100.20"),
                Some(1),
            ),
            (
                tcp6(v6("fd00::5"), 5000, v6("2001:db8::1"), 443),
                ip("2001:db8:77::13"),
                Some(2001),
            ),
        ];
        let mut zero = udp4([172, 30, 0, 5], 9, [8, 8, 8, 8], 53);
        zero[40] = 0;
        zero[41] = 0;
        frames.push((zero, ip("10.0.0.1"), Some(7)));
        let mut echo = Vec::new();
        PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([172, 30, 0, 5], [1, 1, 1, 1], 64)
            .icmpv4_echo_request(0x1234, 7)
            .write(&mut echo, b"ping")
            .unwrap();
        frames.push((echo, ip("192.168.0.2"), Some(0x4321)));
        for (f, to, port) in frames {
            let (key, _) = crate::frame::quick::quick_key(&f).unwrap();
            let key: FlowKey = key;
            let r = SrcRewrite::compile(&key, to, port).unwrap();
            let mut a = f.clone();
            let mut b = f.clone();
            assert!(r.apply(&mut a));
            assert!(rewrite(&mut b, End::Src, to, port));
            assert_eq!(a, b, "compiled and general rewrites agree for {key:?}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x9e3779b97f4a7c15u64;
        for n in 0..2000usize {
            let len = n % 120;
            let mut f: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if len > 14 {
                f[12] = 0x08;
                f[13] = 0;
                f[14] = 0x45;
            }
            let _ = rewrite(&mut f, End::Src, ip("1.2.3.4"), Some(5));
            let _ = icmp_error(&f);
            let k = crate::FlowKey {
                proto: f.get(23).copied().unwrap_or(17),
                src: ip("1.1.1.1"),
                dst: ip("2.2.2.2"),
                src_port: 1,
                dst_port: 2,
                icmp: None,
            };
            if let Some(r) = SrcRewrite::compile(&k, ip("3.3.3.3"), Some(4)) {
                let _ = r.apply(&mut f);
            }
            let _ = rewrite_icmp_error(
                &mut f,
                End::Dst,
                ip("1.2.3.4"),
                End::Src,
                ip("1.2.3.4"),
                Some(1),
            );
        }
    }
}
