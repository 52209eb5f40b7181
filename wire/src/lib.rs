//! Wire formats: zero-copy views over byte slices, one protocol per file.
//!
//! Modelled on smoltcp's `wire`: for each protocol a typed view
//! (`Xxx<T: AsRef<[u8]>>`) whose `new_checked` validates the lengths that its
//! getters rely on, and where useful a parsed representation `XxxRepr` with
//! `parse`, `buffer_len` and `emit`.
//!
//! This is the data path: every parse of arbitrary bytes returns `Ok` or
//! `Err`, never panics. Getters read through bounds-checked helpers, so even a
//! view made with `new_unchecked` over a short buffer yields zeroes instead of
//! panicking; `new_checked` is what makes those values meaningful.
//!
//! [`packet::parse_packet`] is the one-call entry point for the engine.

#![forbid(unsafe_code)]

pub mod arp;
pub mod checksum;
pub mod dhcpv4;
pub mod dhcpv6;
pub mod ethernet;
pub mod geneve;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ndp;
pub mod packet;
pub mod pktbuf;
pub mod tcp;
pub mod udp;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use dhcpv4::{DhcpMessageRepr, DhcpMessageType, DhcpOption, DhcpPacket, DhcpReplyRepr};
pub use dhcpv6::{
    Dhcpv6IaAddr, Dhcpv6IaNa, Dhcpv6MessageRepr, Dhcpv6MessageType, Dhcpv6Option, Dhcpv6Packet,
    Dhcpv6ReplyRepr,
};
pub use ethernet::{ethertype, EthernetFrame, EthernetRepr};
pub use geneve::{GeneveOption, GenevePacket, GeneveRepr, GENEVE_PORT, OXIDE_OPT_CLASS};
pub use icmpv4::{Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Packet, Icmpv6Repr};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6ExtInfo, Ipv6Fragment, Ipv6Packet, Ipv6Repr};
pub use ndp::{NdpOption, NdpPrefixInfo, NdpRepr};
pub use packet::{
    parse_geneve_packet, parse_packet, EncapPacket, L2Info, L3Info, L4Info, ParsedPacket,
};
pub use tcp::{TcpOption, TcpPacket};
pub use udp::{UdpPacket, UdpRepr};

/// Why bytes could not be read (or written) as a protocol unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than the header or a length field claims.
    Truncated,
    /// A field holds a value the protocol forbids.
    Malformed(&'static str),
    /// Well formed, but a version, type or option this switch does not handle.
    Unsupported(&'static str),
    /// The checksum does not match the contents.
    Checksum,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated packet"),
            WireError::Malformed(what) => write!(f, "malformed packet: {what}"),
            WireError::Unsupported(what) => write!(f, "unsupported: {what}"),
            WireError::Checksum => f.write_str("bad checksum"),
        }
    }
}

impl std::error::Error for WireError {}

/// The result of every parse in this module.
pub type Result<T> = core::result::Result<T, WireError>;

/// An Ethernet (EUI-48) MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 00:00:00:00:00:00, used where a field is "unknown" (ARP request target).
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Reads an address from the first six bytes of `b`.
    pub fn from_bytes(b: &[u8]) -> Result<MacAddr> {
        b.get(..6)
            .and_then(|s| <[u8; 6]>::try_from(s).ok())
            .map(MacAddr)
            .ok_or(WireError::Truncated)
    }

    /// The six octets, in wire order.
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether the I/G bit is set (group address, broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// Whether this names a single station (neither multicast nor zero).
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != MacAddr::ZERO
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

impl FromStr for MacAddr {
    type Err = WireError;

    /// Accepts six hex octets separated by `:` or `-` (one or two digits each).
    fn from_str(s: &str) -> Result<MacAddr> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in out.iter_mut() {
            let part = parts.next().ok_or(WireError::Malformed("MAC address"))?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(WireError::Malformed("MAC address"));
            }
            *byte =
                u8::from_str_radix(part, 16).map_err(|_| WireError::Malformed("MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(WireError::Malformed("MAC address"));
        }
        Ok(MacAddr(out))
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> MacAddr {
        MacAddr(b)
    }
}

/// Bounds-checked field access shared by the views.
///
/// Reads past the end yield zero and writes past the end are dropped, so a
/// view never panics; `new_checked` guarantees that neither happens for the
/// fields a protocol defines.
pub(crate) mod field {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::{MacAddr, Result, WireError};

    /// `len` bytes at `off`, if the buffer holds them.
    pub fn bytes(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
        b.get(off..)?.get(..len)
    }

    /// Mutable `len` bytes at `off`, if the buffer holds them.
    pub fn bytes_mut(b: &mut [u8], off: usize, len: usize) -> Option<&mut [u8]> {
        b.get_mut(off..)?.get_mut(..len)
    }

    /// Like [`bytes`], as a `Result` for parsers.
    pub fn slice(b: &[u8], off: usize, len: usize) -> Result<&[u8]> {
        bytes(b, off, len).ok_or(WireError::Truncated)
    }

    fn array<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
        bytes(b, off, N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .unwrap_or([0; N])
    }

    /// The byte at `off`, or 0.
    pub fn u8_at(b: &[u8], off: usize) -> u8 {
        b.get(off).copied().unwrap_or(0)
    }

    /// The big-endian u16 at `off`, or 0.
    pub fn u16_at(b: &[u8], off: usize) -> u16 {
        u16::from_be_bytes(array(b, off))
    }

    /// The big-endian u32 at `off`, or 0.
    pub fn u32_at(b: &[u8], off: usize) -> u32 {
        u32::from_be_bytes(array(b, off))
    }

    /// The IPv4 address at `off`, or 0.0.0.0.
    pub fn ipv4_at(b: &[u8], off: usize) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(b, off))
    }

    /// The IPv6 address at `off`, or `::`.
    pub fn ipv6_at(b: &[u8], off: usize) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(b, off))
    }

    /// The MAC address at `off`, or 00:00:00:00:00:00.
    pub fn mac_at(b: &[u8], off: usize) -> MacAddr {
        MacAddr(array(b, off))
    }

    /// Copies `v` to `off` if it fits entirely.
    pub fn put(b: &mut [u8], off: usize, v: &[u8]) {
        if let Some(d) = bytes_mut(b, off, v.len()) {
            d.copy_from_slice(v);
        }
    }

    /// Writes a byte at `off` if it fits.
    pub fn put_u8(b: &mut [u8], off: usize, v: u8) {
        if let Some(d) = b.get_mut(off) {
            *d = v;
        }
    }

    /// Writes a big-endian u16 at `off` if it fits.
    pub fn put_u16(b: &mut [u8], off: usize, v: u16) {
        put(b, off, &v.to_be_bytes());
    }

    /// Writes a big-endian u32 at `off` if it fits.
    pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
        put(b, off, &v.to_be_bytes());
    }

    /// Sequential writer for emitters that build variable-length messages
    /// (DHCP, DHCPv6, NDP options): every write is checked, so a short
    /// buffer is an error rather than a panic.
    pub struct Writer<'a> {
        buf: &'a mut [u8],
        pos: usize,
    }

    impl<'a> Writer<'a> {
        /// Starts writing at `pos`.
        pub fn new(buf: &'a mut [u8], pos: usize) -> Writer<'a> {
            Writer { buf, pos }
        }

        /// Bytes written so far, counted from the start of the buffer.
        pub fn pos(&self) -> usize {
            self.pos
        }

        /// Appends `v`.
        pub fn bytes(&mut self, v: &[u8]) -> Result<()> {
            let end = self.pos.checked_add(v.len()).ok_or(WireError::Truncated)?;
            let dst = self
                .buf
                .get_mut(self.pos..end)
                .ok_or(WireError::Truncated)?;
            dst.copy_from_slice(v);
            self.pos = end;
            Ok(())
        }

        /// Appends one byte.
        pub fn u8(&mut self, v: u8) -> Result<()> {
            self.bytes(&[v])
        }

        /// Appends a big-endian u16.
        pub fn u16(&mut self, v: u16) -> Result<()> {
            self.bytes(&v.to_be_bytes())
        }

        /// Appends a big-endian u32.
        pub fn u32(&mut self, v: u32) -> Result<()> {
            self.bytes(&v.to_be_bytes())
        }
    }
}

#[cfg(test)]
mod mac_tests {
    use super::*;

    #[test]
    fn mac_display_parse() {
        let m: MacAddr = "a8:40:25:77:77:77".parse().unwrap();
        assert_eq!(m, MacAddr([0xa8, 0x40, 0x25, 0x77, 0x77, 0x77]));
        assert_eq!(m.to_string(), "a8:40:25:77:77:77");
        assert_eq!("A8-40-25-77-77-7".parse::<MacAddr>().unwrap().0[5], 7);
        assert!("a8:40:25:77:77".parse::<MacAddr>().is_err());
        assert!("a8:40:25:77:77:77:00".parse::<MacAddr>().is_err());
        assert!("a8:40:25:77:77:zz".parse::<MacAddr>().is_err());
        assert!("a8:40:25:77::77".parse::<MacAddr>().is_err());
        assert!("a8:40:25:77:77:+7".parse::<MacAddr>().is_err());
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!("33:33:00:00:00:01"
            .parse::<MacAddr>()
            .unwrap()
            .is_multicast());
        assert!(m.is_unicast());
        assert!(MacAddr::from_bytes(&[1, 2, 3]).is_err());
    }

    #[test]
    fn error_display() {
        assert_eq!(WireError::Truncated.to_string(), "truncated packet");
        assert_eq!(
            WireError::Unsupported("critical geneve option").to_string(),
            "unsupported: critical geneve option"
        );
    }
}
