//! Where the headers the engine reads and writes at fixed offsets sit, and
//! the constants of the underlay's encapsulation: the one place a frame
//! offset is written (the fast-path readings in `quick.rs`, the templates
//! in `overlay/`, the NAT rewrites and the boundary all use these).

/// An untagged Ethernet header.
pub const ETH_LEN: usize = 14;
/// Where an Ethernet frame's destination MAC is.
pub const ETH_DST: std::ops::Range<usize> = 0..6;
/// Where an Ethernet frame's source MAC is.
pub const ETH_SRC: std::ops::Range<usize> = 6..12;
/// Where an Ethernet frame's EtherType (or its first VLAN tag's TPID) is.
pub const ETH_TYPE: usize = 12;
/// An IPv6 header, without extension headers.
pub const IPV6_LEN: usize = 40;

/// Geneve's UDP port.
pub const GENEVE_PORT: u16 = 6081;
/// Outer IPv6 header of an encapsulated frame.
pub const OUTER_IPV6_OFF: usize = ETH_LEN;
/// Outer UDP header of an encapsulated frame.
pub const OUTER_UDP_OFF: usize = OUTER_IPV6_OFF + IPV6_LEN;
/// Geneve header of an encapsulated frame.
pub const GENEVE_OFF: usize = OUTER_UDP_OFF + 8;
/// Geneve options (when there are any).
pub const GENEVE_OPTIONS_OFF: usize = GENEVE_OFF + 8;
/// Outer Ethernet (14) + IPv6 (40) + UDP (8) + Geneve (8), without options:
/// where the inner frame of an option-less Geneve frame starts.
pub const ENCAP_LEN: usize = GENEVE_OPTIONS_OFF;
/// [`ENCAP_LEN`] plus the 4-byte Oxide External option (class 0x0129, type
/// 0x00, no body): the outer headers of boundary traffic from outside the VPC.
pub const BOUNDARY_ENCAP_LEN: usize = ENCAP_LEN + 4;

/// VNI of boundary traffic (sled <-> boundary).
pub const BOUNDARY_VNI: u32 = 99;
/// Inner destination MAC of traffic toward the boundary.
pub const BOUNDARY_MAC: [u8; 6] = [0xa8, 0x40, 0x25, 0x77, 0x77, 0x77];

/// The big-endian `u16` at `at`.
#[inline(always)]
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The big-endian `u64` at `at`.
#[inline(always)]
pub fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Writes `v` big-endian at `at`.
#[inline(always)]
pub fn put16(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    b.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}
