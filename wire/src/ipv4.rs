//! IPv4 headers (RFC 791).

use std::net::Ipv4Addr;

use super::checksum;
use super::field::{ipv4_at, put, put_u16, put_u8, u16_at, u8_at};
use super::{Result, WireError};

const VER_IHL: usize = 0;
const DSCP_ECN: usize = 1;
const LENGTH: usize = 2;
const IDENT: usize = 4;
const FLG_OFF: usize = 6;
const TTL: usize = 8;
const PROTOCOL: usize = 9;
const CHECKSUM: usize = 10;
const SRC: usize = 12;
const DST: usize = 16;

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer holding a version 4 header and the whole datagram its
    /// total length claims (trailing Ethernet padding is allowed).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks behind [`Ipv4Packet::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::Malformed("IPv4 version"));
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(WireError::Malformed("IPv4 header length"));
        }
        if hlen > len {
            return Err(WireError::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(WireError::Malformed("IPv4 total length"));
        }
        if total > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4).
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), VER_IHL) >> 4
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(u8_at(self.buffer.as_ref(), VER_IHL) & 0x0f) * 4
    }

    /// The DSCP and ECN byte.
    pub fn dscp_ecn(&self) -> u8 {
        u8_at(self.buffer.as_ref(), DSCP_ECN)
    }

    /// Total length of the datagram (header and payload).
    pub fn total_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), IDENT)
    }

    /// The Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        u16_at(self.buffer.as_ref(), FLG_OFF) & FLAG_DF != 0
    }

    /// The More Fragments flag.
    pub fn more_frags(&self) -> bool {
        u16_at(self.buffer.as_ref(), FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (u16_at(self.buffer.as_ref(), FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Whether this datagram is one fragment of a larger one.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        u8_at(self.buffer.as_ref(), TTL)
    }

    /// Upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        u8_at(self.buffer.as_ref(), PROTOCOL)
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), DST)
    }

    /// The options between the fixed header and the payload.
    pub fn options(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        match self.buffer.as_ref().get(..self.header_len()) {
            Some(h) if h.len() >= HEADER_LEN => checksum::fold(checksum::sum(h)) == 0xffff,
            _ => false,
        }
    }

    /// The payload: from the end of the header to the total length, so that
    /// Ethernet padding is not taken for payload.
    pub fn payload(&self) -> &[u8] {
        let end = usize::from(self.total_len());
        self.buffer
            .as_ref()
            .get(self.header_len()..end)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets version 4 and the header length in bytes (a multiple of 4).
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = ((len / 4) & 0x0f) as u8;
        put_u8(self.buffer.as_mut(), VER_IHL, 0x40 | ihl);
    }

    /// Sets the DSCP and ECN byte.
    pub fn set_dscp_ecn(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), DSCP_ECN, v);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), LENGTH, v);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), IDENT, v);
    }

    /// Sets the flags and fragment offset (in bytes, a multiple of 8).
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut v = (offset >> 3) & OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        put_u16(self.buffer.as_mut(), FLG_OFF, v);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), TTL, v);
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), PROTOCOL, v);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), CHECKSUM, v);
    }

    /// Sets the source address (the checksum is not updated).
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        put(self.buffer.as_mut(), SRC, &a.octets());
    }

    /// Sets the destination address (the checksum is not updated).
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        put(self.buffer.as_mut(), DST, &a.octets());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let c = checksum::checksum(self.buffer.as_ref().get(..hlen).unwrap_or(&[]));
        self.set_checksum(c);
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len());
        self.buffer.as_mut().get_mut(start..end).unwrap_or(&mut [])
    }
}

/// A parsed IPv4 header (options are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Upper-layer protocol.
    pub protocol: u8,
    /// Payload length (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// DSCP and ECN byte.
    pub dscp_ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
    /// More Fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
}

impl Ipv4Repr {
    /// Parses a checked packet, verifying its header checksum.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Ipv4Repr> {
        p.check_len()?;
        if !p.verify_checksum() {
            return Err(WireError::Checksum);
        }
        Ok(Ipv4Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()).saturating_sub(p.header_len()),
            ttl: p.ttl(),
            dscp_ecn: p.dscp_ecn(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            more_frags: p.more_frags(),
            frag_offset: p.frag_offset(),
        })
    }

    /// Header length: always 20, since emit writes no options.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (IHL 5) with its checksum; the payload is the caller's.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv4Packet<T>) -> Result<()> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let total = HEADER_LEN
            .checked_add(self.payload_len)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(WireError::Malformed("IPv4 payload too long"))?;
        if !self.frag_offset.is_multiple_of(8) {
            return Err(WireError::Malformed("IPv4 fragment offset"));
        }
        p.set_header_len(HEADER_LEN);
        p.set_dscp_ecn(self.dscp_ecn);
        p.set_total_len(total);
        p.set_ident(self.ident);
        p.set_frag(self.dont_frag, self.more_frags, self.frag_offset);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A header from a capture: 45 00 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet() -> Vec<u8> {
        let mut v = HDR.to_vec();
        v.resize(0x73, 0xab);
        v
    }

    #[test]
    fn parse_known_header() {
        let buf = packet();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum());
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.payload().len(), 0x73 - 20);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.src_addr, Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(r.dst_addr, Ipv4Addr::new(192, 168, 0, 199));
        let mut out = [0u8; 20];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(&out[..], &HDR[..]);
        let big = Ipv4Repr {
            payload_len: usize::MAX,
            ..r
        };
        assert!(big
            .emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .is_err());
    }

    #[test]
    fn rejects() {
        let buf = packet();
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..19]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&buf[..0x72]).unwrap_err(),
            WireError::Truncated
        );
        let mut b = buf.clone();
        b[0] = 0x65;
        assert!(matches!(
            Ipv4Packet::new_checked(&b[..]),
            Err(WireError::Malformed(_))
        ));
        let mut b = buf.clone();
        b[0] = 0x44;
        assert!(Ipv4Packet::new_checked(&b[..]).is_err());
        let mut b = buf.clone();
        b[2] = 0;
        b[3] = 10;
        assert!(Ipv4Packet::new_checked(&b[..]).is_err());
        let mut b = buf.clone();
        b[11] ^= 1;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p).unwrap_err(), WireError::Checksum);
    }

    #[test]
    fn options_and_fragments() {
        let mut b = [0u8; 40];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_header_len(24);
        p.set_total_len(40);
        p.set_frag(false, true, 1480);
        p.set_protocol(6);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.options().len(), 4);
        assert_eq!(p.payload().len(), 16);
        assert!(p.is_fragment() && p.more_frags());
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.verify_checksum());
    }
}
