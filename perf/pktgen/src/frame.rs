//! The generator's frames: Ethernet + IPv4 + UDP of a fixed size, optionally
//! carried in Geneve over IPv6 (the underlay's view of a guest frame).
//!
//! A flow number `f` is split into `lo = f % sport_count` and
//! `hi = f / sport_count`. The source port is always `sport_base + lo`; `hi`
//! goes to
//! - the source address (`Vary::Addr`, the default, the generator's original
//!   frames: 10.0.0.1 + hi, source port 1024 + lo with 32,768 ports, UDP
//!   checksum 0), or
//! - the destination port (`Vary::Ports`: addresses fixed, destination port
//!   `dport_base + hi`, UDP checksum computed), which is how a guest that
//!   must pass anti-spoof varies its flows.
//!
//! Frames are built from a [`Template`]: the whole frame is prebuilt once,
//! and per packet the generator copies it and patches the few bytes that
//! depend on the flow (ports, flow id, and the checksums, updated from
//! precomputed partial sums), so that the cost per packet does not depend
//! on the number of flows.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Outer Ethernet (14) + IPv6 (40) + UDP (8) + Geneve (8), no options.
pub const GENEVE_OVERHEAD: usize = 70;
/// Geneve's UDP port.
pub const GENEVE_PORT: u16 = 6081;
/// Shortest inner frame: Ethernet + IPv4 + UDP + the 4-byte flow id.
pub const MIN_SIZE: usize = 46;

/// How flows differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vary {
    /// Source address (`src_ip + hi`) and source port.
    Addr,
    /// Source port and destination port; addresses fixed.
    Ports,
}

/// Outer headers of Geneve mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geneve {
    /// Outer source MAC.
    pub src_mac: [u8; 6],
    /// Outer destination MAC.
    pub dst_mac: [u8; 6],
    /// Outer IPv6 source (the remote sled).
    pub src: Ipv6Addr,
    /// Outer IPv6 destination (the switch's underlay address).
    pub dst: Ipv6Addr,
    /// The VNI (24 bits).
    pub vni: u32,
    /// Carry Oxide's External option (class 0x0129, type 0, no body), as a
    /// boundary switch does on traffic from outside: 4 more outer bytes.
    pub external: bool,
}

/// Length of the External option.
pub const EXTERNAL_OPTION_LEN: usize = 4;

impl Geneve {
    /// Outer header bytes before the inner frame.
    pub fn overhead(&self) -> usize {
        GENEVE_OVERHEAD
            + if self.external {
                EXTERNAL_OPTION_LEN
            } else {
                0
            }
    }
}

/// What the frames look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Inner frame length, without FCS.
    pub size: usize,
    /// Inner source MAC.
    pub src_mac: [u8; 6],
    /// Inner destination MAC.
    pub dst_mac: [u8; 6],
    /// Inner IPv4 source (the base address in `Vary::Addr`).
    pub src_ip: Ipv4Addr,
    /// Inner IPv4 destination.
    pub dst_ip: Ipv4Addr,
    /// How flows differ.
    pub vary: Vary,
    /// First source port.
    pub sport_base: u16,
    /// Source ports per source address (`Addr`) or per destination port (`Ports`).
    pub sport_count: u32,
    /// (First) destination port.
    pub dport_base: u16,
    /// Geneve encapsulation, if any.
    pub geneve: Option<Geneve>,
}

impl Default for Spec {
    /// The generator's original frames.
    fn default() -> Self {
        Spec {
            size: 64,
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            vary: Vary::Addr,
            sport_base: 1024,
            sport_count: 32_768,
            dport_base: 5001,
            geneve: None,
        }
    }
}

impl Spec {
    /// Length of a whole frame on the wire (outer headers included).
    pub fn frame_len(&self) -> usize {
        self.size + self.inner()
    }

    /// Offset of the inner frame.
    pub fn inner(&self) -> usize {
        self.geneve.as_ref().map_or(0, Geneve::overhead)
    }

    /// Checks that `flows` distinct flows fit in the port (and address) space.
    pub fn check(&self, flows: u32) -> Result<(), String> {
        if self.size < MIN_SIZE {
            return Err(format!("frame size {} is below {MIN_SIZE}", self.size));
        }
        if self.sport_count == 0 || self.sport_base as u32 + self.sport_count > 65_536 {
            return Err(format!(
                "--sport-base {} + --sport-count {} exceeds port 65535",
                self.sport_base, self.sport_count
            ));
        }
        let his = (flows as u64).div_ceil(self.sport_count as u64);
        match self.vary {
            Vary::Ports if self.dport_base as u64 + his > 65_536 => Err(format!(
                "{flows} flows need {his} destination ports from {}: past 65535",
                self.dport_base
            )),
            Vary::Addr if u32::from(self.src_ip) as u64 + his > 1 << 32 => {
                Err(format!("{flows} flows overflow the IPv4 source range"))
            }
            _ => Ok(()),
        }
        .and_then(|()| match &self.geneve {
            Some(g) if g.vni > 0xff_ffff => Err(format!("VNI {} exceeds 24 bits", g.vni)),
            _ => Ok(()),
        })
    }
}

/// A flow number and its two halves (`lo`, `hi`), advanced without division.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The flow number.
    pub flow: u32,
    lo: u32,
    hi: u32,
}

impl Cursor {
    /// The cursor of flow `flow` for a template.
    #[inline]
    pub fn at(t: &Template, flow: u32) -> Cursor {
        Cursor {
            flow,
            lo: flow % t.sport_count,
            hi: flow / t.sport_count,
        }
    }

    /// Moves to the next flow, wrapping after `flows`.
    #[inline]
    pub fn advance(&mut self, t: &Template, flows: u32) {
        self.flow += 1;
        self.lo += 1;
        if self.flow == flows {
            *self = Cursor {
                flow: 0,
                lo: 0,
                hi: 0,
            };
        } else if self.lo == t.sport_count {
            self.lo = 0;
            self.hi += 1;
        }
    }
}

/// A prebuilt frame and what to patch into it per flow.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    inner: usize,
    vary: Vary,
    sport_base: u16,
    sport_count: u32,
    dport_base: u16,
    src_ip: u32,
    /// Ones'-complement sum of the IPv4 header with source and checksum zero.
    ip_sum: u32,
    /// Ones'-complement sum of the UDP pseudo-header, header and payload with
    /// ports, flow id and checksum zero (`Vary::Ports` only).
    udp_sum: Option<u32>,
    geneve: bool,
}

/// Adds `data` as big-endian 16-bit words to a ones'-complement sum, unfolded.
fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum()
}

#[inline]
fn fold(mut s: u32) -> u16 {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// The Internet checksum of `data`.
#[cfg(test)]
fn checksum(data: &[u8]) -> u16 {
    !fold(sum16(data))
}

impl Template {
    /// The template of `spec` (which [`Spec::check`] accepted).
    pub fn new(spec: &Spec) -> Template {
        let inner = spec.inner();
        let mut b = vec![0u8; spec.frame_len()];
        if let Some(g) = &spec.geneve {
            b[0..6].copy_from_slice(&g.dst_mac);
            b[6..12].copy_from_slice(&g.src_mac);
            b[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
            let ip6 = &mut b[14..54];
            ip6[0] = 0x60; // version 6, traffic class 0, flow label 0
            let udp_len = (inner - 54 + spec.size) as u16;
            ip6[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip6[6] = 17;
            ip6[7] = 255;
            ip6[8..24].copy_from_slice(&g.src.octets());
            ip6[24..40].copy_from_slice(&g.dst.octets());
            let udp = &mut b[54..62];
            // Source port (entropy) per flow; checksum 0 (RFC 6935).
            udp[2..4].copy_from_slice(&GENEVE_PORT.to_be_bytes());
            udp[4..6].copy_from_slice(&udp_len.to_be_bytes());
            let gen = &mut b[62..inner];
            // Version 0; option length in 4-byte words.
            gen[0] = ((inner - 70) / 4) as u8;
            gen[1] = 0; // O and C clear
            gen[2..4].copy_from_slice(&0x6558u16.to_be_bytes());
            gen[4..8].copy_from_slice(&(g.vni << 8).to_be_bytes());
            if g.external {
                // Class 0x0129, type 0x00 (External), length 0.
                gen[8..12].copy_from_slice(&[0x01, 0x29, 0x00, 0x00]);
            }
        }
        let f = &mut b[inner..];
        let len = f.len();
        f[0..6].copy_from_slice(&spec.dst_mac);
        f[6..12].copy_from_slice(&spec.src_mac);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip_len = (len - 14) as u16;
        {
            let ip = &mut f[14..34];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
            ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
            ip[8] = 64;
            ip[9] = 17;
            ip[16..20].copy_from_slice(&spec.dst_ip.octets());
        }
        if spec.vary == Vary::Ports {
            f[26..30].copy_from_slice(&spec.src_ip.octets());
        }
        let ip_sum = sum16(&f[14..34]);
        if spec.vary == Vary::Ports {
            // Fixed addresses: the header checksum is fixed too.
            f[24..26].copy_from_slice(&(!fold(ip_sum)).to_be_bytes());
        }
        if spec.vary == Vary::Addr {
            f[36..38].copy_from_slice(&spec.dport_base.to_be_bytes());
        }
        f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
        // Payload: the flow id (patched), then a fixed pattern.
        for (i, x) in f[46..].iter_mut().enumerate() {
            *x = i as u8;
        }
        let udp_sum = (spec.vary == Vary::Ports).then(|| {
            // Pseudo-header (addresses, protocol, UDP length) + UDP header and
            // payload with ports, flow id and checksum zero.
            sum16(&f[26..34]) + 17 + (ip_len - 20) as u32 + sum16(&f[34..])
        });
        Template {
            bytes: b,
            inner,
            vary: spec.vary,
            sport_base: spec.sport_base,
            sport_count: spec.sport_count,
            dport_base: spec.dport_base,
            src_ip: u32::from(spec.src_ip),
            ip_sum,
            udp_sum,
            geneve: spec.geneve.is_some(),
        }
    }

    /// Length of a frame.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes the frame of the cursor's flow into `out` (exactly [`Self::len`] bytes).
    #[inline]
    pub fn fill(&self, out: &mut [u8], c: &Cursor) {
        out.copy_from_slice(&self.bytes);
        let f = &mut out[self.inner..];
        let sport = self.sport_base.wrapping_add(c.lo as u16);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[42..46].copy_from_slice(&c.flow.to_be_bytes());
        match self.vary {
            Vary::Addr => {
                let src = self.src_ip.wrapping_add(c.hi);
                f[26..30].copy_from_slice(&src.to_be_bytes());
                let s = !fold(self.ip_sum + (src >> 16) + (src & 0xffff));
                f[24..26].copy_from_slice(&s.to_be_bytes());
            }
            Vary::Ports => {
                let dport = self.dport_base.wrapping_add(c.hi as u16);
                f[36..38].copy_from_slice(&dport.to_be_bytes());
                if let Some(base) = self.udp_sum {
                    let s = !fold(
                        base + sport as u32 + dport as u32 + (c.flow >> 16) + (c.flow & 0xffff),
                    );
                    // A computed zero is sent as all ones (RFC 768).
                    let s = if s == 0 { 0xffff } else { s };
                    f[40..42].copy_from_slice(&s.to_be_bytes());
                }
            }
        }
        if self.geneve {
            // Outer UDP source port: entropy from the flow, in the dynamic range.
            let e = 0xc000 | (c.flow.wrapping_mul(0x9e37_79b1) >> 18) as u16;
            out[54..56].copy_from_slice(&e.to_be_bytes());
        }
    }

    /// The flow id a frame of this template carries, if it looks like one.
    pub fn flow_of(&self, frame: &[u8]) -> Option<u32> {
        let f = frame.get(self.inner..)?;
        if frame.len() != self.bytes.len() || f[12..14] != [0x08, 0x00] || f[23] != 17 {
            return None;
        }
        Some(u32::from_be_bytes([f[42], f[43], f[44], f[45]]))
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    let mut m = [0u8; 6];
    if parts.len() != 6 {
        return Err(format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"));
    }
    for (o, p) in m.iter_mut().zip(&parts) {
        *o = u8::from_str_radix(p, 16)
            .ok()
            .filter(|_| p.len() == 2)
            .ok_or_else(|| format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    /// The generator's original builder, verbatim: default frames must not change.
    fn legacy_build(out: &mut [u8], flow: u32) {
        let len = out.len();
        out[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
        out[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        out[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip_len = (len - 14) as u16;
        let src = 0x0a00_0001u32 + (flow >> 15);
        let ip = &mut out[14..34];
        ip[0] = 0x45;
        ip[1] = 0;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[4..6].copy_from_slice(&[0, 0]);
        ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[10..12].copy_from_slice(&[0, 0]);
        ip[12..16].copy_from_slice(&src.to_be_bytes());
        ip[16..20].copy_from_slice(&0x0a00_0002u32.to_be_bytes());
        let sum = checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let sport = 1024 + (flow & 0x7fff) as u16;
        let udp = &mut out[34..42];
        udp[0..2].copy_from_slice(&sport.to_be_bytes());
        udp[2..4].copy_from_slice(&5001u16.to_be_bytes());
        udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
        udp[6..8].copy_from_slice(&[0, 0]);
        if len >= 46 {
            out[42..46].copy_from_slice(&flow.to_be_bytes());
            for (i, b) in out[46..].iter_mut().enumerate() {
                *b = i as u8;
            }
        }
    }

    fn frame(t: &Template, flow: u32) -> Vec<u8> {
        let mut v = vec![0u8; t.len()];
        t.fill(&mut v, &Cursor::at(t, flow));
        v
    }

    fn guest_spec() -> Spec {
        Spec {
            size: 64,
            src_mac: parse_mac("a8:40:25:00:00:05").unwrap(),
            dst_mac: parse_mac("a8:40:25:ff:ff:01").unwrap(),
            src_ip: Ipv4Addr::new(172, 30, 0, 5),
            dst_ip: Ipv4Addr::new(172, 30, 0, 9),
            vary: Vary::Ports,
            sport_base: 1024,
            sport_count: 50_000,
            dport_base: 5001,
            geneve: None,
        }
    }

    /// Parses an Ethernet/IPv4/UDP frame with etherparse and checks both checksums;
    /// returns (src MAC, dst MAC, src IP, dst IP, sport, dport, UDP checksum).
    fn parse_inner(f: &[u8]) -> ([u8; 6], [u8; 6], Ipv4Addr, Ipv4Addr, u16, u16, u16) {
        let p = SlicedPacket::from_ethernet(f).expect("etherparse parses the frame");
        let eth = match p.link {
            Some(etherparse::LinkSlice::Ethernet2(e)) => e,
            other => panic!("not Ethernet II: {other:?}"),
        };
        let Some(NetSlice::Ipv4(ip)) = p.net else {
            panic!("not IPv4")
        };
        let h = ip.header().to_header();
        assert_eq!(
            h.header_checksum,
            h.calc_header_checksum(),
            "IPv4 header checksum"
        );
        assert_eq!(h.total_len as usize, f.len() - 14);
        assert_eq!(h.time_to_live, 64);
        assert!(h.dont_fragment);
        let Some(TransportSlice::Udp(udp)) = p.transport else {
            panic!("not UDP")
        };
        let u = udp.to_header();
        assert_eq!(u.length as usize, f.len() - 34);
        if u.checksum != 0 {
            assert_eq!(
                u.checksum,
                u.calc_checksum_ipv4(&h, udp.payload()).unwrap(),
                "UDP checksum"
            );
        }
        (
            eth.source(),
            eth.destination(),
            Ipv4Addr::from(h.source),
            Ipv4Addr::from(h.destination),
            u.source_port,
            u.destination_port,
            u.checksum,
        )
    }

    #[test]
    fn default_frames_are_the_original_frames() {
        let t = Template::new(&Spec::default());
        for size in [60usize, 64, 1514] {
            let t2 = Template::new(&Spec {
                size,
                ..Spec::default()
            });
            for flow in [0u32, 1, 0x7fff, 0x8000, 70_000, 1 << 20] {
                let mut want = vec![0u8; size];
                legacy_build(&mut want, flow);
                assert_eq!(frame(&t2, flow), want, "size {size} flow {flow}");
            }
        }
        let f = frame(&t, 70_000);
        let (.., src, dst, sport, dport, csum) = parse_inner(&f);
        assert_eq!(src, Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(dst, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            (sport, dport, csum),
            (1024 + (70_000u32 & 0x7fff) as u16, 5001, 0)
        );
        assert_eq!(t.flow_of(&f), Some(70_000));
    }

    #[test]
    fn guest_frames_vary_ports_only_and_pass_checksums() {
        let spec = guest_spec();
        spec.check(100_000).unwrap();
        let t = Template::new(&spec);
        assert_eq!(t.len(), 64);
        let mut seen = std::collections::HashSet::new();
        for flow in [0u32, 1, 49_999, 50_000, 50_001, 99_999, 12_345] {
            let f = frame(&t, flow);
            let (smac, dmac, src, dst, sport, dport, csum) = parse_inner(&f);
            assert_eq!(smac, spec.src_mac);
            assert_eq!(dmac, spec.dst_mac);
            assert_eq!(src, spec.src_ip);
            assert_eq!(dst, spec.dst_ip);
            assert_eq!(sport, 1024 + (flow % 50_000) as u16);
            assert_eq!(dport, 5001 + (flow / 50_000) as u16);
            assert_ne!(csum, 0, "the UDP checksum is computed");
            assert_eq!(t.flow_of(&f), Some(flow));
            assert!(seen.insert((sport, dport)), "flows are distinct");
        }
    }

    #[test]
    fn cursor_walks_every_flow_like_division() {
        let t = Template::new(&Spec {
            sport_count: 7,
            ..guest_spec()
        });
        let mut c = Cursor::at(&t, 0);
        for i in 0..100u32 {
            assert_eq!(c, Cursor::at(&t, i % 45), "flow {i}");
            c.advance(&t, 45);
        }
        let mut a = vec![0u8; 64];
        let c = Cursor::at(&t, 44);
        t.fill(&mut a, &c);
        assert_eq!(a, frame(&t, 44));
    }

    #[test]
    fn slowpath_flow_space_has_no_repeats_and_valid_checksums() {
        // 64,512 source ports x 256 destination ports.
        let spec = Spec {
            sport_count: 64_512,
            ..guest_spec()
        };
        let flows = 64_512 * 256;
        spec.check(flows).unwrap();
        assert!(spec
            .check(flows + 64_512 * (65_536 - 5001 - 256) + 1)
            .is_err());
        let t = Template::new(&spec);
        for flow in [0, 64_511, 64_512, flows - 1, 0x00ff_fffe % flows] {
            let f = frame(&t, flow);
            let (.., sport, dport, _) = parse_inner(&f);
            assert_eq!(sport as u32, 1024 + flow % 64_512);
            assert_eq!(dport as u32, 5001 + flow / 64_512);
        }
        // Every checksum value, including the all-ones substitution, verifies.
        for flow in 0..200_000u32 {
            let f = frame(&t, flow * 83 % flows);
            let sum = sum16(&f[26..34]) + 17 + (f.len() - 34) as u32 + sum16(&f[34..]);
            assert_eq!(fold(sum), 0xffff, "UDP checksum of flow {flow}");
            assert_eq!(checksum(&f[14..34]), 0);
        }
    }

    #[test]
    fn geneve_frames_carry_the_inner_frame_as_rfc_8926_says() {
        let spec = Spec {
            src_mac: parse_mac("a8:40:25:00:00:09").unwrap(),
            dst_mac: parse_mac("a8:40:25:00:00:05").unwrap(),
            src_ip: Ipv4Addr::new(172, 30, 0, 9),
            dst_ip: Ipv4Addr::new(172, 30, 0, 5),
            geneve: Some(Geneve {
                src_mac: parse_mac("02:aa:00:00:00:02").unwrap(),
                dst_mac: parse_mac("02:aa:00:00:00:01").unwrap(),
                src: "fd00:1701:d:102::1".parse().unwrap(),
                dst: "fd00:1701:d:101::1".parse().unwrap(),
                vni: 100,
                external: false,
            }),
            ..guest_spec()
        };
        spec.check(1000).unwrap();
        let t = Template::new(&spec);
        assert_eq!(t.len(), 134, "64-byte inner frame + 70");
        let mut sports = std::collections::HashSet::new();
        for flow in [0u32, 1, 2, 999] {
            let f = frame(&t, flow);
            let p = SlicedPacket::from_ethernet(&f).expect("outer parses");
            let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
                panic!("outer Ethernet")
            };
            assert_eq!(eth.destination(), [0x02, 0xaa, 0, 0, 0, 1]);
            assert_eq!(eth.ether_type(), etherparse::EtherType::IPV6);
            let Some(NetSlice::Ipv6(ip6)) = p.net else {
                panic!("outer IPv6")
            };
            let h = ip6.header().to_header();
            assert_eq!(
                std::net::Ipv6Addr::from(h.source),
                "fd00:1701:d:102::1".parse::<Ipv6Addr>().unwrap()
            );
            assert_eq!(
                std::net::Ipv6Addr::from(h.destination),
                "fd00:1701:d:101::1".parse::<Ipv6Addr>().unwrap()
            );
            assert_eq!(h.hop_limit, 255);
            assert_eq!(h.payload_length, 80);
            let Some(TransportSlice::Udp(udp)) = p.transport else {
                panic!("outer UDP")
            };
            let u = udp.to_header();
            assert_eq!(u.destination_port, 6081);
            assert_eq!(u.checksum, 0, "outer UDP checksum 0 (RFC 6935)");
            assert_eq!(u.length, 80);
            assert!(u.source_port >= 0xc000);
            sports.insert(u.source_port);
            let g = udp.payload();
            assert_eq!(g[0] >> 6, 0, "Geneve version 0");
            assert_eq!(g[0] & 0x3f, 0, "no options");
            assert_eq!(g[1], 0, "O and C bits clear");
            assert_eq!(u16::from_be_bytes([g[2], g[3]]), 0x6558);
            assert_eq!(u32::from_be_bytes([0, g[4], g[5], g[6]]), 100, "VNI");
            assert_eq!(g[7], 0);
            let inner = &g[8..];
            assert_eq!(inner.len(), 64);
            let (smac, dmac, src, dst, sport, dport, csum) = parse_inner(inner);
            assert_eq!(smac, spec.src_mac);
            assert_eq!(dmac, spec.dst_mac);
            assert_eq!(src, Ipv4Addr::new(172, 30, 0, 9));
            assert_eq!(dst, Ipv4Addr::new(172, 30, 0, 5));
            assert_eq!((sport, dport), (1024 + flow as u16, 5001));
            assert_ne!(csum, 0);
            assert_eq!(t.flow_of(&f), Some(flow));
        }
        assert!(sports.len() > 1, "outer source port varies per flow");
    }

    #[test]
    fn the_external_option_follows_the_geneve_header() {
        let spec = Spec {
            geneve: Some(Geneve {
                src_mac: [2; 6],
                dst_mac: [4; 6],
                src: "fd00:1701:d:1::1".parse().unwrap(),
                dst: "fd00:1701:d:101::1".parse().unwrap(),
                vni: 99,
                external: true,
            }),
            ..guest_spec()
        };
        spec.check(10).unwrap();
        let t = Template::new(&spec);
        assert_eq!(t.len(), 64 + 74);
        let f = frame(&t, 3);
        let p = SlicedPacket::from_ethernet(&f).expect("outer parses");
        let Some(TransportSlice::Udp(udp)) = p.transport else {
            panic!("outer UDP")
        };
        assert_eq!(udp.to_header().length as usize, 8 + 8 + 4 + 64);
        let g = udp.payload();
        assert_eq!(g[0] & 0x3f, 1, "one 4-byte word of options");
        assert_eq!(u32::from_be_bytes([0, g[4], g[5], g[6]]), 99);
        assert_eq!(&g[8..12], &[0x01, 0x29, 0x00, 0x00], "External option");
        assert_eq!(t.flow_of(&f), Some(3));
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(Spec {
            sport_base: 60_000,
            sport_count: 6_000,
            ..guest_spec()
        }
        .check(1)
        .is_err());
        assert!(guest_spec().check(50_000 * 70_000).is_err());
        assert!(Spec {
            size: 40,
            ..guest_spec()
        }
        .check(1)
        .is_err());
        assert!(parse_mac("a8:40:25:00:00").is_err());
        assert!(parse_mac("a8:40:25:00:00:0g").is_err());
        assert_eq!(parse_mac("A8:40:25:00:00:0f").unwrap()[5], 0x0f);
    }
}
