//! IPv6 fixed headers and the walk over extension headers (RFC 8200).

use std::net::Ipv6Addr;

use super::field::{ipv6_at, put, put_u16, put_u32, put_u8, slice, u16_at, u32_at, u8_at};
use super::{Result, WireError};

const VER_TC_FL: usize = 0;
const LENGTH: usize = 4;
const NXT_HDR: usize = 6;
const HOP_LIMIT: usize = 7;
const SRC: usize = 8;
const DST: usize = 24;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Next Header values that are extension headers (plus "no next header").
pub mod ext {
    /// Hop-by-Hop Options; only valid right after the fixed header.
    pub const HOP_BY_HOP: u8 = 0;
    /// Routing.
    pub const ROUTING: u8 = 43;
    /// Fragment.
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload: opaque, so the walk ends there.
    pub const ESP: u8 = 50;
    /// Authentication Header.
    pub const AUTH: u8 = 51;
    /// No Next Header.
    pub const NO_NEXT: u8 = 59;
    /// Destination Options.
    pub const DEST_OPTS: u8 = 60;
}

/// More extension headers than this is an evasion attempt, not a real packet.
pub const MAX_EXT_HEADERS: usize = 8;

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// The fields of a Fragment extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fragment {
    /// Offset of this fragment's data in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more_frags: bool,
    /// Identification.
    pub ident: u32,
}

/// Where the upper layer starts, found by walking the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6ExtInfo {
    /// The upper-layer protocol (or ESP, or No Next Header).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    /// In a non-first fragment this is where the fragment's data starts,
    /// which holds no header.
    pub offset: usize,
    /// The Fragment header, if there was one.
    pub fragment: Option<Ipv6Fragment>,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer holding a version 6 header and the payload length it
    /// claims (trailing Ethernet padding is allowed).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks behind [`Ipv6Packet::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 6 {
            return Err(WireError::Malformed("IPv6 version"));
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (6).
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), VER_TC_FL) >> 4
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        ((u32_at(self.buffer.as_ref(), VER_TC_FL) >> 20) & 0xff) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        u32_at(self.buffer.as_ref(), VER_TC_FL) & 0x000f_ffff
    }

    /// Payload length (extension headers included).
    pub fn payload_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), LENGTH)
    }

    /// The Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), NXT_HDR)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        ipv6_at(self.buffer.as_ref(), SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        ipv6_at(self.buffer.as_ref(), DST)
    }

    /// Everything after the fixed header, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.buffer.as_ref().get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// The upper-layer protocol and its offset from the start of the header.
    pub fn upper_layer(&self) -> Result<(u8, usize)> {
        let info = self.walk_ext()?;
        Ok((info.protocol, info.offset))
    }

    /// Walks the extension headers, at most [`MAX_EXT_HEADERS`] of them.
    ///
    /// Stops at the first header that is not an extension header, at ESP,
    /// and at a non-first fragment (whose data holds no further header).
    pub fn walk_ext(&self) -> Result<Ipv6ExtInfo> {
        self.check_len()?;
        let end = HEADER_LEN + usize::from(self.payload_len());
        let data = self
            .buffer
            .as_ref()
            .get(..end)
            .ok_or(WireError::Truncated)?;
        let mut nh = self.next_header();
        let mut off = HEADER_LEN;
        let mut fragment = None;
        for i in 0..=MAX_EXT_HEADERS {
            let len = match nh {
                ext::HOP_BY_HOP if i != 0 => {
                    return Err(WireError::Malformed("IPv6 hop-by-hop not first"))
                }
                ext::HOP_BY_HOP | ext::ROUTING | ext::DEST_OPTS => {
                    let h = slice(data, off, 2)?;
                    (usize::from(u8_at(h, 1)) + 1) * 8
                }
                ext::AUTH => {
                    let h = slice(data, off, 2)?;
                    (usize::from(u8_at(h, 1)) + 2) * 4
                }
                ext::FRAGMENT => {
                    let h = slice(data, off, 8)?;
                    let f = u16_at(h, 2);
                    let frag = Ipv6Fragment {
                        offset: f & 0xfff8,
                        more_frags: f & 1 != 0,
                        ident: u32_at(h, 4),
                    };
                    fragment = Some(frag);
                    if frag.offset != 0 {
                        return Ok(Ipv6ExtInfo {
                            protocol: u8_at(h, 0),
                            offset: off + 8,
                            fragment,
                        });
                    }
                    8
                }
                _ => {
                    return Ok(Ipv6ExtInfo {
                        protocol: nh,
                        offset: off,
                        fragment,
                    })
                }
            };
            if i == MAX_EXT_HEADERS {
                break;
            }
            // The whole extension header must be inside the payload.
            slice(data, off, len)?;
            nh = u8_at(data, off);
            off += len;
        }
        Err(WireError::Unsupported("too many IPv6 extension headers"))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets version 6, the traffic class and the flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        put_u32(self.buffer.as_mut(), VER_TC_FL, v);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), LENGTH, v);
    }

    /// Sets the Next Header of the fixed header.
    pub fn set_next_header(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), NXT_HDR, v);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), HOP_LIMIT, v);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        put(self.buffer.as_mut(), SRC, &a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        put(self.buffer.as_mut(), DST, &a.octets());
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..end)
            .unwrap_or(&mut [])
    }
}

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next Header of the fixed header.
    pub next_header: u8,
    /// Payload length, extension headers included.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses the fixed header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        p.check_len()?;
        Ok(Ipv6Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    /// Always 40.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header; what follows is the caller's.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Ipv6Packet<T>) -> Result<()> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = u16::try_from(self.payload_len)
            .map_err(|_| WireError::Malformed("IPv6 payload too long"))?;
        p.set_version_tc_flow(self.traffic_class, self.flow_label);
        p.set_payload_len(len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload: &[u8]) -> Vec<u8> {
        let r = Ipv6Repr {
            src_addr: "fd00::1".parse().unwrap(),
            dst_addr: "fd00::2".parse().unwrap(),
            next_header: next,
            payload_len: payload.len(),
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        };
        let mut b = vec![0u8; 40];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut b[..])).unwrap();
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn fixed_header_round_trip() {
        let b = header(17, &[0; 8]);
        assert_eq!(&b[..4], &[0x6b, 0x81, 0x23, 0x45]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.upper_layer().unwrap(), (17, 40));
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 8);
        assert_eq!(r.hop_limit, 64);
    }

    #[test]
    fn walks_extension_headers() {
        // Hop-by-Hop (8 B: nh=60, len=0, PadN), Destination Options (16 B: nh=43, len=1),
        // Routing (8 B: nh=44, len=0), Fragment (8 B: nh=51, offset 0, M=1),
        // AH (12 B: nh=6, payload len 1 => (1+2)*4), then TCP.
        let mut pl = vec![60, 0, 1, 4, 0, 0, 0, 0];
        pl.extend_from_slice(&[43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        pl.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
        pl.extend_from_slice(&[51, 0, 0x00, 0x01, 0, 0, 0, 7]);
        pl.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        pl.extend_from_slice(&[0; 20]);
        let b = header(0, &pl);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let info = p.walk_ext().unwrap();
        assert_eq!(info.protocol, 6);
        assert_eq!(info.offset, 40 + 8 + 16 + 8 + 8 + 12);
        assert_eq!(
            info.fragment,
            Some(Ipv6Fragment {
                offset: 0,
                more_frags: true,
                ident: 7
            })
        );
        // Every truncation of the chain inside the payload is an error.
        for cut in 0..(8 + 16 + 8 + 8 + 12) {
            let b = header(0, &pl[..cut]);
            let p = Ipv6Packet::new_checked(&b[..]).unwrap();
            assert!(p.walk_ext().is_err(), "cut {cut}");
        }
    }

    #[test]
    fn later_fragment_stops_the_walk() {
        let pl = [17, 0, 0x05, 0xc8, 0, 0, 0, 9, 1, 2, 3, 4];
        let b = header(44, &pl);
        let info = Ipv6Packet::new_checked(&b[..]).unwrap().walk_ext().unwrap();
        assert_eq!(info.protocol, 17);
        assert_eq!(info.offset, 48);
        assert_eq!(info.fragment.unwrap().offset, 0x5c8);
    }

    #[test]
    fn rejects() {
        // Hop-by-Hop after Destination Options.
        let b = header(60, &[0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0]);
        assert!(Ipv6Packet::new_checked(&b[..]).unwrap().walk_ext().is_err());
        // A loop of Destination Options headers.
        let mut pl = Vec::new();
        for _ in 0..20 {
            pl.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        let b = header(60, &pl);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..])
                .unwrap()
                .walk_ext()
                .unwrap_err(),
            WireError::Unsupported("too many IPv6 extension headers")
        );
        let b = header(17, &[0; 8]);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..47]).unwrap_err(),
            WireError::Truncated
        );
        let mut b4 = b.clone();
        b4[0] = 0x40;
        assert!(Ipv6Packet::new_checked(&b4[..]).is_err());
    }
}
