//! UDP datagrams (RFC 768).

use std::net::IpAddr;

use super::checksum;
use super::field::{put_u16, u16_at};
use super::{Result, WireError};

const SRC_PORT: usize = 0;
const DST_PORT: usize = 2;
const LENGTH: usize = 4;
const CHECKSUM: usize = 6;

/// Length of the header.
pub const HEADER_LEN: usize = 8;
/// The IP protocol number.
pub const PROTOCOL: u8 = 17;

/// A view of a UDP datagram. The buffer should be the IP payload, so that
/// the length field is checked against what IP carries.
#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer holding the header and the length it claims.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks behind [`UdpPacket::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let field = usize::from(self.len());
        if field < HEADER_LEN {
            // Zero means an IPv6 jumbogram (RFC 2675), which no VPC carries.
            return Err(WireError::Malformed("UDP length"));
        }
        if field > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), DST_PORT)
    }

    /// The length field: header plus payload.
    pub fn len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), LENGTH)
    }

    /// Whether the datagram carries no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// The checksum field (0: not computed).
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), CHECKSUM)
    }

    /// The payload, up to the length field.
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(HEADER_LEN..usize::from(self.len()))
            .unwrap_or(&[])
    }

    /// The datagram, header included, up to the length field.
    fn datagram(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(..usize::from(self.len()))
            .unwrap_or(&[])
    }

    /// Whether the checksum is right for these pseudo-header addresses.
    ///
    /// A zero checksum means "not computed" and is accepted for both
    /// families: RFC 768 for IPv4, and RFC 6935/6936 for tunnels such as
    /// Geneve over IPv6. Mixed families never verify.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let d = self.datagram();
        match checksum::pseudo_header(src, dst, PROTOCOL, d.len()) {
            Ok(ph) if d.len() >= HEADER_LEN => checksum::fold(ph + checksum::sum(d)) == 0xffff,
            _ => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), SRC_PORT, v);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), DST_PORT, v);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), LENGTH, v);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), CHECKSUM, v);
    }

    /// Computes and stores the checksum over the datagram (up to the length
    /// field). A computed zero is sent as 0xffff, since zero means "none".
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        self.set_checksum(0);
        let d = self.datagram();
        if d.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let ph = checksum::pseudo_header(src, dst, PROTOCOL, d.len())?;
        let c = match checksum::finish(ph + checksum::sum(d)) {
            0 => 0xffff,
            c => c,
        };
        self.set_checksum(c);
        Ok(())
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..end)
            .unwrap_or(&mut [])
    }
}

/// A parsed UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length (the length field minus 8).
    pub payload_len: usize,
}

impl UdpRepr {
    /// Parses a checked datagram; the checksum is the caller's to verify,
    /// since it needs the IP addresses.
    pub fn parse<T: AsRef<[u8]>>(p: &UdpPacket<T>) -> Result<UdpRepr> {
        p.check_len()?;
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: usize::from(p.len()).saturating_sub(HEADER_LEN),
        })
    }

    /// Always 8.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum: write the payload, then call
    /// [`UdpPacket::fill_checksum`] (or leave it zero for a tunnel).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut UdpPacket<T>) -> Result<()> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = HEADER_LEN
            .checked_add(self.payload_len)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(WireError::Malformed("UDP payload too long"))?;
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.set_checksum(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checksum() {
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "10.0.0.2".parse().unwrap();
        let r = UdpRepr {
            src_port: 68,
            dst_port: 67,
            payload_len: 5,
        };
        let mut b = [0u8; 13];
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        r.emit(&mut p).unwrap();
        p.payload_mut().copy_from_slice(b"hello");
        p.fill_checksum(src, dst).unwrap();
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(src, dst));
        assert!(!p.verify_checksum(dst, "10.0.0.3".parse().unwrap()));
        assert!(!p.verify_checksum(src, "fd00::1".parse().unwrap()));
        assert_eq!(UdpRepr::parse(&p).unwrap(), r);
        assert_eq!(p.payload(), b"hello");
        let big = UdpRepr {
            payload_len: usize::MAX,
            ..r
        };
        assert!(big
            .emit(&mut UdpPacket::new_unchecked(&mut [0u8; 8][..]))
            .is_err());
    }

    #[test]
    fn rejects() {
        let b = [0, 1, 0, 2, 0, 9, 0, 0];
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::Truncated
        );
        let b = [0, 1, 0, 2, 0, 7, 0, 0];
        assert!(matches!(
            UdpPacket::new_checked(&b[..]),
            Err(WireError::Malformed(_))
        ));
        assert!(UdpPacket::new_checked(&b[..7]).is_err());
        // Zero checksum is "none".
        let b = [0, 1, 0, 2, 0, 8, 0, 0];
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap()));
    }
}
