//! The overlay layer's compiled transform: Geneve over IPv6 (RFC 8926).
//!
//! The slow path builds a flow's outer headers once ([`EncapTemplate`]); the
//! fast path copies them in front of the inner frame and fixes the two length
//! fields. The outer UDP checksum is 0, which RFC 6935/6936 allow for tunnels
//! over IPv6, so no per-packet checksum is needed.

pub mod decap;
pub mod encap;
pub mod place;
pub mod relay;
pub mod v2p;

use crate::FlowKey;
use std::net::Ipv6Addr;
use wire::MacAddr;

pub use crate::frame::offsets::{BOUNDARY_ENCAP_LEN, ENCAP_LEN, GENEVE_PORT};
use crate::frame::offsets::{
    GENEVE_OFF, GENEVE_OPTIONS_OFF as OPTIONS_OFF, OUTER_IPV6_OFF as IPV6_OFF,
    OUTER_UDP_OFF as UDP_OFF,
};

/// A hash of a flow's 5-tuple: the outer UDP source port and IPv6 flow label,
/// so that ECMP in the underlay spreads flows and keeps each on one path.
#[inline]
pub fn flow_hash(key: &FlowKey) -> u32 {
    key.entropy()
}

/// The prebuilt outer headers of one encapsulated flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncapTemplate {
    /// The headers; lengths are filled per packet.
    pub bytes: [u8; ENCAP_LEN],
    /// The longest inner frame that fits the uplink's MTU once encapsulated.
    pub max_frame: usize,
}

impl EncapTemplate {
    /// Outer headers from `src` to `dst` on the underlay, for VNI `vni`. Shared
    /// by every flow to the same place; each flow's entropy is written per packet.
    pub fn new(src_mac: MacAddr, dst_mac: MacAddr, src: Ipv6Addr, dst: Ipv6Addr, vni: u32) -> Self {
        let mut b = [0u8; ENCAP_LEN];
        b[0..6].copy_from_slice(&dst_mac.0);
        b[6..12].copy_from_slice(&src_mac.0);
        b[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        // IPv6: version 6, traffic class 0; the flow label is the flow's.
        b[IPV6_OFF] = 0x60;
        b[IPV6_OFF + 6] = 17; // next header: UDP
        b[IPV6_OFF + 7] = 255; // hop limit
        b[IPV6_OFF + 8..IPV6_OFF + 24].copy_from_slice(&src.octets());
        b[IPV6_OFF + 24..IPV6_OFF + 40].copy_from_slice(&dst.octets());
        // UDP: the source port is the flow's.
        b[UDP_OFF + 2..UDP_OFF + 4].copy_from_slice(&GENEVE_PORT.to_be_bytes());
        // Geneve: version 0, no options, protocol 0x6558 (Ethernet), VNI.
        b[GENEVE_OFF + 2..GENEVE_OFF + 4].copy_from_slice(&0x6558u16.to_be_bytes());
        b[GENEVE_OFF + 4..GENEVE_OFF + 8].copy_from_slice(&(vni << 8).to_be_bytes());
        EncapTemplate {
            bytes: b,
            max_frame: usize::MAX,
        }
    }

    /// The same headers for an uplink of MTU `mtu`: the inner frame (its
    /// Ethernet header included) may be `mtu - 56` bytes long (the outer
    /// IPv6, UDP and Geneve headers take the rest).
    pub fn for_mtu(mut self, mtu: u16) -> Self {
        self.max_frame = usize::from(mtu).saturating_sub(ENCAP_LEN - 14);
        self
    }

    /// Writes the headers into `out` (the first [`ENCAP_LEN`] bytes of a packet
    /// whose inner frame is `inner_len` bytes long), with the flow's `entropy`
    /// as IPv6 flow label and UDP source port (in the dynamic range).
    #[inline]
    pub fn write(&self, out: &mut [u8], inner_len: usize, entropy: u32) -> bool {
        write_outer(&self.bytes, out, inner_len, entropy)
    }
}

/// Copies prebuilt outer headers `t` to the front of `out` and fills the
/// per-packet fields: the flow's `entropy` as IPv6 flow label and UDP
/// source port (in the dynamic range), and the two lengths, from the inner
/// frame's `inner_len`. False if `out` is too short or the lengths overflow.
#[inline]
fn write_outer<const N: usize>(
    t: &[u8; N],
    out: &mut [u8],
    inner_len: usize,
    entropy: u32,
) -> bool {
    let Some(hdr) = out.get_mut(..N) else {
        return false;
    };
    hdr.copy_from_slice(t);
    let vtf = (6u32 << 28) | (entropy & 0x000f_ffff);
    hdr[IPV6_OFF..IPV6_OFF + 4].copy_from_slice(&vtf.to_be_bytes());
    let sport = 0xc000 | (entropy as u16 & 0x3fff);
    hdr[UDP_OFF..UDP_OFF + 2].copy_from_slice(&sport.to_be_bytes());
    let Ok(udp_len) = u16::try_from(N - UDP_OFF + inner_len) else {
        return false;
    };
    hdr[IPV6_OFF + 4..IPV6_OFF + 6].copy_from_slice(&udp_len.to_be_bytes());
    hdr[UDP_OFF + 4..UDP_OFF + 6].copy_from_slice(&udp_len.to_be_bytes());
    true
}

/// The prebuilt outer headers the boundary puts on traffic from outside the
/// VPC: like [`EncapTemplate`], with the Geneve External option set (Geneve
/// Opt Len 1 word), which tells the sled the packet came from the internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryEncapTemplate {
    /// The headers; lengths are filled per packet.
    pub bytes: [u8; BOUNDARY_ENCAP_LEN],
}

impl BoundaryEncapTemplate {
    /// Outer headers from `src` to `dst` on the underlay, for VNI `vni`, with
    /// the External option.
    pub fn new(src_mac: MacAddr, dst_mac: MacAddr, src: Ipv6Addr, dst: Ipv6Addr, vni: u32) -> Self {
        let base = EncapTemplate::new(src_mac, dst_mac, src, dst, vni);
        let mut b = [0u8; BOUNDARY_ENCAP_LEN];
        b[..ENCAP_LEN].copy_from_slice(&base.bytes);
        // Opt Len: one 4-byte word; no O or C flag (External is not critical).
        b[GENEVE_OFF] = 1;
        b[OPTIONS_OFF..OPTIONS_OFF + 2]
            .copy_from_slice(&wire::geneve::OXIDE_OPT_CLASS.to_be_bytes());
        b[OPTIONS_OFF + 2] = wire::geneve::OXIDE_OPT_EXTERNAL;
        b[OPTIONS_OFF + 3] = 0; // length 0: no body
        BoundaryEncapTemplate { bytes: b }
    }

    /// Writes the headers into `out` (the first [`BOUNDARY_ENCAP_LEN`] bytes
    /// of a packet whose inner frame is `inner_len` bytes long), with
    /// `entropy` as IPv6 flow label and UDP source port, as
    /// [`EncapTemplate::write`] does.
    #[inline]
    pub fn write(&self, out: &mut [u8], inner_len: usize, entropy: u32) -> bool {
        write_outer(&self.bytes, out, inner_len, entropy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_fields_are_where_rfc_8926_puts_them() {
        let t = EncapTemplate::new(
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            "fd00:1701:d:101::1".parse().unwrap(),
            "fd00:1701:d:102::1".parse().unwrap(),
            0x123456,
        );
        let mut out = [0u8; ENCAP_LEN];
        assert!(t.write(&mut out, 100, 0xabcdef01));
        assert_eq!(
            u32::from_be_bytes([out[14], out[15], out[16], out[17]]) & 0xfffff,
            0xdef01,
            "flow label"
        );
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
        assert_eq!(out[14] >> 4, 6);
        assert_eq!(
            u16::from_be_bytes([out[18], out[19]]),
            116,
            "IPv6 payload = UDP + Geneve + inner"
        );
        assert_eq!(u16::from_be_bytes([out[56], out[57]]), 6081);
        assert_eq!(u16::from_be_bytes([out[58], out[59]]), 116);
        assert_eq!(&out[60..62], &[0, 0], "UDP checksum 0 (RFC 6935)");
        assert_eq!(out[62], 0, "Geneve version 0, no options");
        assert_eq!(&out[64..66], &[0x65, 0x58]);
        assert_eq!(&out[66..69], &[0x12, 0x34, 0x56]);
        assert!(u16::from_be_bytes([out[54], out[55]]) >= 0xc000);
    }

    #[test]
    fn external_template_parses_as_external_geneve() {
        let src: Ipv6Addr = "fd00:1701:d:1::1".parse().unwrap();
        let dst: Ipv6Addr = "fd00:1701:d:101::1".parse().unwrap();
        let t = BoundaryEncapTemplate::new(
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
            src,
            dst,
            99,
        );
        // An inner frame: Ethernet (14) + 46 bytes of payload.
        let mut inner = vec![0u8; 60];
        inner[..6].copy_from_slice(&[0xa8, 0x40, 0x25, 0x77, 0x77, 0x77]);
        inner[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        inner[12..14].copy_from_slice(&[0x08, 0x00]);
        let mut frame = vec![0u8; BOUNDARY_ENCAP_LEN];
        assert!(t.write(&mut frame, inner.len(), 0x1234_5678));
        frame.extend_from_slice(&inner);
        assert_eq!(BOUNDARY_ENCAP_LEN, 74);
        assert_eq!(&frame[62..66], &[0x01, 0x00, 0x65, 0x58], "Opt Len 1, TEB");
        assert_eq!(&frame[66..70], &[0, 0, 99, 0], "VNI 99");
        assert_eq!(&frame[70..74], &[0x01, 0x29, 0x00, 0x00], "External");
        assert_eq!(
            u16::from_be_bytes([frame[58], frame[59]]) as usize,
            8 + 12 + inner.len(),
            "UDP length"
        );
        assert_eq!(u16::from_be_bytes([frame[18], frame[19]]), 8 + 12 + 60);
        let e = wire::parse_geneve_packet(&frame).expect("parses as Geneve");
        assert!(e.geneve.external, "the External option parses as external");
        assert_eq!(e.geneve.vni, 99);
        assert_eq!(e.geneve.multicast, None);
        assert_eq!(e.outer_src, src);
        assert_eq!(e.outer_dst, dst);
        assert_eq!(e.inner_offset, BOUNDARY_ENCAP_LEN);
        assert_eq!(e.inner_len, inner.len());
        assert_eq!(e.udp_src_port, 0xc000 | (0x5678 & 0x3fff));
        assert!(!e.oam);
        let mut short = [0u8; BOUNDARY_ENCAP_LEN - 1];
        assert!(!t.write(&mut short, 10, 0));
    }
}
