//! Fixed-offset reading of the common frames, for the fast path: Ethernet
//! without a VLAN tag, IPv4 without options and not fragmented or IPv6
//! without extension headers, carrying TCP, UDP or an ICMP echo; and Geneve
//! without options. Anything else returns `None` and takes the full parser
//! (`wire`), whose results these must equal (see the tests).

use crate::flow::key::misc_word;
use crate::frame::{FrameInfo, L3Facts};
use crate::{proto, FlowKey, KeyWords};
use std::net::Ipv6Addr;
use wire::MacAddr;

use super::offsets::{be16, be64, BOUNDARY_ENCAP_LEN, BOUNDARY_VNI, ENCAP_LEN};

/// What the fixed-offset reading finds in a common frame.
#[derive(Clone, Copy)]
struct Core {
    words: KeyWords,
    tcp_flags: u8,
    l4_offset: usize,
}

/// The packed flow key and the TCP flags of a common frame: all the fast
/// path needs. Read into registers, never through a [`FlowKey`] in memory.
#[inline(always)]
pub fn quick_words(f: &[u8]) -> Option<(KeyWords, u8)> {
    core(f).map(|c| (c.words, c.tcp_flags))
}

/// The flow key and TCP flags of a common frame.
#[inline]
pub fn quick_key(f: &[u8]) -> Option<(FlowKey, u8)> {
    core(f).map(|c| (FlowKey::from_words(&c.words), c.tcp_flags))
}

/// Everything [`crate::frame::frame_info`] reports, for a common frame.
#[inline]
pub fn quick_info(f: &[u8]) -> Option<FrameInfo> {
    let c = core(f)?;
    let mac = |at: usize| -> Option<MacAddr> { MacAddr::from_bytes(f.get(at..at + 6)?).ok() };
    let k = FlowKey::from_words(&c.words);
    Some(FrameInfo {
        dst_mac: mac(0)?,
        src_mac: mac(6)?,
        ethertype: if k.src.is_ipv4() { 0x0800 } else { 0x86dd },
        vlan: false,
        l3: Some(L3Facts {
            src: k.src,
            dst: k.dst,
            proto: k.proto,
            l3_offset: 14,
            l4_offset: c.l4_offset,
            is_fragment: false,
        }),
        key: Some(k),
        tcp_flags: c.tcp_flags,
        udp_ports: (k.proto == proto::UDP).then_some((k.src_port, k.dst_port)),
        icmp: k.icmp,
    })
}

#[inline(always)]
fn core(f: &[u8]) -> Option<Core> {
    // Addresses as (high, low) words, as FlowKey::words packs them.
    let (p, v6, s, d, l4, end) = match be16(f, 12)? {
        0x0800 => {
            let ip = f.get(14..34)?;
            // Version 4, no options, not a fragment (no MF, offset 0).
            if ip[0] != 0x45 || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                return None;
            }
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            let src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]) as u64;
            let dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]) as u64;
            (ip[9], false, (0, src), (0, dst), 34, 14 + total)
        }
        0x86dd => {
            let ip = f.get(14..54)?;
            if ip[0] >> 4 != 6 {
                return None;
            }
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let src = (be64(ip, 8)?, be64(ip, 16)?);
            let dst = (be64(ip, 24)?, be64(ip, 32)?);
            (ip[6], true, src, dst, 54, 54 + plen)
        }
        _ => return None,
    };
    if end > f.len() {
        return None;
    }
    let core = |src_port, dst_port, tcp_flags, icmp| Core {
        words: [
            s.0,
            s.1,
            d.0,
            d.1,
            misc_word(p, v6, icmp, src_port, dst_port),
        ],
        tcp_flags,
        l4_offset: l4,
    };
    match (p, v6) {
        (proto::TCP, _) => {
            let t = f.get(l4..l4 + 20)?;
            let doff = (t[12] >> 4) as usize * 4;
            if doff < 20 || l4 + doff > end {
                return None;
            }
            Some(core(be16(t, 0)?, be16(t, 2)?, t[13], None))
        }
        (proto::UDP, _) => {
            let u = f.get(l4..l4 + 8)?;
            // The length field as the full parser checks it.
            let len = be16(u, 4)? as usize;
            if len < 8 || l4 + len > end {
                return None;
            }
            Some(core(be16(u, 0)?, be16(u, 2)?, 0, None))
        }
        (proto::ICMP, false) | (proto::ICMPV6, true) => {
            let c = f.get(l4..l4 + 8)?;
            if l4 + 8 > end
                || !matches!((p, c[0]), (proto::ICMP, 0 | 8) | (proto::ICMPV6, 128 | 129))
            {
                return None;
            }
            let id = be16(c, 4)?;
            Some(core(id, id, 0, Some((c[0], c[1]))))
        }
        _ => None,
    }
}

/// Whether the outer headers of `f` are untagged Ethernet, IPv6 to
/// `underlay` with UDP next, UDP to 6081, and Geneve carrying Ethernet, with
/// lengths that add up as the full parser checks them (the IPv6 payload
/// within the frame, the UDP length equal to it and covering the Geneve
/// header, `opt_words` of options and an inner Ethernet header); the callers
/// check the Geneve flags and options.
#[inline]
fn geneve_for<D: Destination + ?Sized>(f: &[u8], underlay: &D, opt_words: usize) -> bool {
    let Some(h) = f.get(..ENCAP_LEN) else {
        return false;
    };
    let plen = u16::from_be_bytes([h[18], h[19]]) as usize;
    let ulen = u16::from_be_bytes([h[58], h[59]]) as usize;
    h[12..14] == [0x86, 0xdd]
        && h[14] >> 4 == 6
        && h[20] == 17
        && underlay.takes(&h[38..54])
        && h[56..58] == [0x17, 0xc1]
        && h[64..66] == [0x65, 0x58]
        && 54 + plen <= f.len()
        && ulen == plen
        && ulen >= 16 + opt_words * 4 + 14
}

/// The outer destinations a quick reader accepts: one address, or a sled's
/// own and its endpoints' ([`crate::vpc::SledAddrs`]).
pub trait Destination {
    /// Whether the 16 bytes `dst` are one of them.
    fn takes(&self, dst: &[u8]) -> bool;
}

impl Destination for Ipv6Addr {
    #[inline]
    fn takes(&self, dst: &[u8]) -> bool {
        dst == self.octets()
    }
}

impl Destination for crate::vpc::SledAddrs<'_> {
    #[inline]
    fn takes(&self, dst: &[u8]) -> bool {
        crate::vpc::SledAddrs::takes(self, dst)
    }
}

/// Where the UDP datagram of a Geneve frame `geneve_for` accepted ends:
/// past it is the outer frame's padding, which is not the inner frame's.
#[inline]
pub fn quick_encap_end(f: &[u8]) -> usize {
    f.get(18..20)
        .map_or(f.len(), |b| 54 + u16::from_be_bytes([b[0], b[1]]) as usize)
}

/// Whether `f` is boundary traffic for `underlay` in the boundary's own
/// form: Geneve with VNI 99 and the External option only, no other option
/// and no critical flag. Anything else (more options, a critical one) takes
/// the full parser. The inner frame starts at [`BOUNDARY_ENCAP_LEN`].
#[inline]
pub fn quick_from_boundary<D: Destination + ?Sized>(f: &[u8], underlay: &D) -> bool {
    let Some(h) = f.get(..BOUNDARY_ENCAP_LEN + 14) else {
        return false;
    };
    let [c0, c1] = wire::geneve::OXIDE_OPT_CLASS.to_be_bytes();
    geneve_for(f, underlay, 1)
        // Version 0, options one word; neither O (control) nor C (critical).
        && h[62] == 1
        && h[63] & 0xc0 == 0
        && h[66..69] == [0, 0, BOUNDARY_VNI as u8]
        && h[70..72] == [c0, c1]
        && h[72] == wire::geneve::OXIDE_OPT_EXTERNAL
        && h[73] & 0x1f == 0
}

/// VNI and inner destination MAC of an option-less Geneve frame for `underlay`.
#[inline]
pub fn quick_encap<D: Destination + ?Sized>(f: &[u8], underlay: &D) -> Option<(u32, [u8; 6])> {
    let h = f.get(..ENCAP_LEN + 14)?;
    if !(geneve_for(f, underlay, 0) && h[62] == 0 && h[63] & 0x80 == 0) {
        return None;
    }
    let vni = u32::from_be_bytes([0, h[66], h[67], h[68]]);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&h[70..76]);
    Some((vni, mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use wire;

    fn full(f: &[u8]) -> Option<(FlowKey, u8)> {
        let p = wire::parse_packet(f).ok()?;
        let flags = match p.l4 {
            Some(wire::L4Info::Tcp { flags, .. }) => flags,
            _ => 0,
        };
        crate::flow_key(&p).map(|k| (k, flags))
    }

    fn frames() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let m1 = [2, 0, 0, 0, 0, 1];
        let m2 = [2, 0, 0, 0, 0, 2];
        let a4 = [10, 0, 0, 1];
        let b4 = [10, 9, 8, 7];
        let a6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let b6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        for i in 0..20u16 {
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv4(a4, b4, 64)
                .udp(1000 + i, 53)
                .write(&mut w, &[1, 2, 3])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv4(a4, b4, 64)
                .tcp(2000 + i, 80, 7, 1000)
                .syn()
                .ack(1)
                .write(&mut w, &[])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv4(a4, b4, 64)
                .icmpv4_echo_request(i, 1)
                .write(&mut w, &[0; 8])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv4(a4, b4, 64)
                .icmpv4_echo_reply(i, 1)
                .write(&mut w, &[0; 8])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv6(a6, b6, 64)
                .udp(3000 + i, 443)
                .write(&mut w, &[9; 30])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv6(a6, b6, 64)
                .tcp(4000 + i, 22, 1, 100)
                .fin()
                .write(&mut w, &[1])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv6(a6, b6, 64)
                .icmpv6_echo_request(i, 3)
                .write(&mut w, &[0; 4])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .ipv4(a4, b4, 64)
                .icmpv4_raw(3, 1, [0; 4])
                .write(&mut w, &[0; 28])
                .unwrap();
            v.push(w);
            let mut w = Vec::new();
            PacketBuilder::ethernet2(m1, m2)
                .single_vlan(7.try_into().unwrap())
                .ipv4(a4, b4, 64)
                .udp(5, 6)
                .write(&mut w, &[])
                .unwrap();
            v.push(w);
        }
        v
    }

    #[test]
    fn quick_keys_equal_the_full_parser() {
        let mut quick_hits = 0;
        for f in frames() {
            let full = full(&f);
            if let Some(q) = quick_key(&f) {
                quick_hits += 1;
                assert_eq!(Some(q), full, "frame {f:02x?}");
                assert_eq!(quick_words(&f), Some((q.0.words(), q.1)));
                let whole = crate::frame::frame_info(&f).ok();
                assert_eq!(quick_info(&f), whole, "FrameInfo of {f:02x?}");
            }
            // Every truncation and a damaged copy: quick never disagrees, never panics.
            for cut in 0..f.len() {
                if let Some(q) = quick_key(&f[..cut]) {
                    assert_eq!(Some(q), crate::frame::quick::tests::full(&f[..cut]));
                }
            }
            let mut bad = f.clone();
            if bad.len() > 23 {
                bad[14] = 0x46;
                assert!(
                    quick_key(&bad).is_none(),
                    "IPv4 options take the full parser"
                );
            }
        }
        assert!(
            quick_hits >= 20 * 7,
            "the common frames take the quick path ({quick_hits})"
        );
    }

    /// The boundary's External Geneve is recognised at fixed offsets exactly
    /// when the full parser finds VNI 99 with the External option; other
    /// option sets, a critical flag, another VNI or sled, or a truncated
    /// frame are left to the full parser.
    #[test]
    fn quick_from_boundary_agrees_with_the_full_parser() {
        use crate::frame::offsets::BOUNDARY_VNI;
        use crate::frame::parse_encap;
        use crate::overlay::BoundaryEncapTemplate;
        let sled: Ipv6Addr = "fd00:1701:d:101::1".parse().unwrap();
        let boundary: Ipv6Addr = "fd00:1701:d:99::1".parse().unwrap();
        let mut inner = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0xa8, 0x40, 0x25, 0x77, 0x77, 0x77])
            .ipv4([203, 0, 113, 10], [198, 51, 100, 20], 64)
            .udp(443, 40000)
            .write(&mut inner, b"from the internet")
            .unwrap();
        let frame = |vni: u32, dst: Ipv6Addr, edit: &dyn Fn(&mut Vec<u8>)| {
            let t = BoundaryEncapTemplate::new(
                MacAddr([2, 0, 0, 0, 0, 9]),
                MacAddr([2, 0, 0, 0, 0, 8]),
                boundary,
                dst,
                vni,
            );
            let mut f = vec![0u8; t.bytes.len()];
            assert!(t.write(&mut f, inner.len(), 1234));
            f.extend_from_slice(&inner);
            edit(&mut f);
            f
        };
        let good = frame(BOUNDARY_VNI, sled, &|_| {});
        assert!(quick_from_boundary(&good, &sled));
        let e = parse_encap(&good).unwrap();
        assert!(e.external_option && e.vni == BOUNDARY_VNI && e.outer_dst == sled);
        assert_eq!(e.inner_offset, BOUNDARY_ENCAP_LEN);
        for cut in 0..good.len() {
            if quick_from_boundary(&good[..cut], &sled) {
                assert!(cut >= BOUNDARY_ENCAP_LEN + 14);
            }
        }
        let refused: [(&str, Vec<u8>); 5] = [
            ("another VNI", frame(7, sled, &|_| {})),
            ("another sled", frame(BOUNDARY_VNI, boundary, &|_| {})),
            (
                "critical flag",
                frame(BOUNDARY_VNI, sled, &|f| f[63] |= 0x40),
            ),
            (
                "a critical option",
                frame(BOUNDARY_VNI, sled, &|f| f[72] |= 0x80),
            ),
            (
                "another class",
                frame(BOUNDARY_VNI, sled, &|f| f[71] = 0x28),
            ),
        ];
        for (what, f) in refused {
            assert!(!quick_from_boundary(&f, &sled), "{what}");
        }
        assert!(!quick_from_boundary(&good, &boundary));
    }
}
