//! TCP segment headers (RFC 9293) and the options a switch touches.
//!
//! There is no `TcpRepr`: the switch rewrites TCP headers in place (ports,
//! MSS clamping) and never originates a segment.

use std::net::IpAddr;

use super::checksum;
use super::field::{put_u16, put_u32, put_u8, slice, u16_at, u32_at, u8_at};
use super::{Result, WireError};

const SRC_PORT: usize = 0;
const DST_PORT: usize = 2;
const SEQ_NUM: usize = 4;
const ACK_NUM: usize = 8;
const DATA_OFF: usize = 12;
const FLAGS: usize = 13;
const WIN_SIZE: usize = 14;
const CHECKSUM: usize = 16;
const URGENT: usize = 18;

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// The IP protocol number.
pub const PROTOCOL: u8 = 6;

/// Bits of the flags byte.
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WS: u8 = 3;
const OPT_SACK_PERM: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TS: u8 = 8;

/// A view of a TCP segment. The buffer must be exactly the segment (the IP
/// payload), since the checksum covers all of it.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0).
    EndOfList,
    /// Padding (kind 1).
    NoOperation,
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5), as raw edges.
    Sack(&'a [u8]),
    /// Timestamps (kind 8).
    Timestamps {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Any other kind, with its data.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data (after kind and length).
        data: &'a [u8],
    },
}

/// Iterates over an options area; stops after End of List or an error.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

/// Finds the option at `pos`: (kind, offset of its data, data length, next pos).
fn raw_option(data: &[u8], pos: usize) -> Result<(u8, usize, usize, usize)> {
    let kind = *data.get(pos).ok_or(WireError::Truncated)?;
    if kind == OPT_EOL || kind == OPT_NOP {
        return Ok((kind, pos + 1, 0, pos + 1));
    }
    let len = usize::from(*data.get(pos + 1).ok_or(WireError::Truncated)?);
    if len < 2 {
        return Err(WireError::Malformed("TCP option length"));
    }
    slice(data, pos, len)?;
    Ok((kind, pos + 2, len - 2, pos + len))
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let parsed = raw_option(self.data, self.pos).and_then(|(kind, start, len, next)| {
            let d = slice(self.data, start, len)?;
            let opt = match (kind, len) {
                (OPT_EOL, _) => TcpOption::EndOfList,
                (OPT_NOP, _) => TcpOption::NoOperation,
                (OPT_MSS, 2) => TcpOption::Mss(u16_at(d, 0)),
                (OPT_WS, 1) => TcpOption::WindowScale(u8_at(d, 0)),
                (OPT_SACK_PERM, 0) => TcpOption::SackPermitted,
                (OPT_SACK, _) => TcpOption::Sack(d),
                (OPT_TS, 8) => TcpOption::Timestamps {
                    tsval: u32_at(d, 0),
                    tsecr: u32_at(d, 4),
                },
                (OPT_MSS | OPT_WS | OPT_SACK_PERM | OPT_TS, _) => {
                    return Err(WireError::Malformed("TCP option length"))
                }
                (kind, _) => TcpOption::Unknown { kind, data: d },
            };
            Ok((opt, next))
        });
        match parsed {
            Ok((opt, next)) => {
                self.pos = next;
                self.done = opt == TcpOption::EndOfList;
                Some(Ok(opt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer holding the header and options its data offset claims.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks behind [`TcpPacket::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(WireError::Malformed("TCP data offset"));
        }
        if hlen > len {
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), SEQ_NUM)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), ACK_NUM)
    }

    /// Header length in bytes (data offset * 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(u8_at(self.buffer.as_ref(), DATA_OFF) >> 4) * 4
    }

    /// The flags byte (see [`flags`]).
    pub fn flags(&self) -> u8 {
        u8_at(self.buffer.as_ref(), FLAGS)
    }

    /// FIN.
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    /// SYN.
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    /// RST.
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    /// PSH.
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }

    /// ACK.
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    /// URG.
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }

    /// ECE.
    pub fn ece(&self) -> bool {
        self.flags() & flags::ECE != 0
    }

    /// CWR.
    pub fn cwr(&self) -> bool {
        self.flags() & flags::CWR != 0
    }

    /// Receive window (unscaled).
    pub fn window_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), WIN_SIZE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        u16_at(self.buffer.as_ref(), URGENT)
    }

    /// The raw options area.
    pub fn options(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// The options, parsed one by one.
    pub fn options_iter(&self) -> TcpOptionIter<'_> {
        TcpOptionIter {
            data: self.options(),
            pos: 0,
            done: false,
        }
    }

    /// The MSS option's value, if the segment has one.
    pub fn mss(&self) -> Result<Option<u16>> {
        for opt in self.options_iter() {
            if let TcpOption::Mss(v) = opt? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The payload, after the options.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    /// Whether the checksum is right for these pseudo-header addresses.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let d = self.buffer.as_ref();
        match checksum::pseudo_header(src, dst, PROTOCOL, d.len()) {
            Ok(ph) if d.len() >= HEADER_LEN => checksum::fold(ph + checksum::sum(d)) == 0xffff,
            _ => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), SRC_PORT, v);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), DST_PORT, v);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), SEQ_NUM, v);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), ACK_NUM, v);
    }

    /// Sets the header length in bytes (a multiple of 4, 20 to 60).
    pub fn set_header_len(&mut self, len: usize) {
        let words = ((len / 4) & 0x0f) as u8;
        put_u8(self.buffer.as_mut(), DATA_OFF, words << 4);
    }

    /// Sets the flags byte.
    pub fn set_flags(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), FLAGS, v);
    }

    /// Sets the window.
    pub fn set_window_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), WIN_SIZE, v);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), CHECKSUM, v);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), URGENT, v);
    }

    /// Rewrites an existing MSS option in place and returns its old value,
    /// or `None` (and changes nothing) when there is none. The checksum is
    /// left alone: update it with [`checksum::update16`] or refill it.
    pub fn set_mss(&mut self, mss: u16) -> Result<Option<u16>> {
        let hlen = self.header_len();
        let buf = self.buffer.as_mut();
        let opts = buf.get_mut(HEADER_LEN..hlen).ok_or(WireError::Truncated)?;
        let mut pos = 0;
        while pos < opts.len() {
            let (kind, start, len, next) = raw_option(opts, pos)?;
            match (kind, len) {
                (OPT_EOL, _) => break,
                (OPT_MSS, 2) => {
                    let old = u16_at(opts, start);
                    put_u16(opts, start, mss);
                    return Ok(Some(old));
                }
                (OPT_MSS, _) => return Err(WireError::Malformed("TCP option length")),
                _ => pos = next,
            }
        }
        Ok(None)
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        self.set_checksum(0);
        let d = self.buffer.as_ref();
        if d.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let ph = checksum::pseudo_header(src, dst, PROTOCOL, d.len())?;
        let c = checksum::finish(ph + checksum::sum(d));
        self.set_checksum(c);
        Ok(())
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        self.buffer.as_mut().get_mut(h..).unwrap_or(&mut [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN with options MSS 1460, NOP, WS 7, SACK-permitted, TS, EOL.
    fn syn() -> Vec<u8> {
        let mut b = vec![
            0x30, 0x39, 0x00, 0x50, // ports 12345 -> 80
            0x00, 0x00, 0x00, 0x01, // seq
            0x00, 0x00, 0x00, 0x00, // ack
            0xa0, 0x02, 0xff, 0xff, // data offset 10 words, SYN, window
            0x00, 0x00, 0x00, 0x00, // checksum, urgent
        ];
        b.extend_from_slice(&[2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
        b.extend_from_slice(&[4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn options_and_mss_rewrite() {
        let mut b = syn();
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "10.0.0.2".parse().unwrap();
        let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
        assert!(p.syn() && !p.ack());
        assert_eq!(p.header_len(), 40);
        let opts: Vec<_> = p.options_iter().collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            vec![
                TcpOption::Mss(1460),
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
                TcpOption::SackPermitted,
                TcpOption::Timestamps { tsval: 1, tsecr: 0 },
            ]
        );
        p.fill_checksum(src, dst).unwrap();
        assert!(p.verify_checksum(src, dst));
        let old_csum = p.checksum();
        assert_eq!(p.set_mss(1380).unwrap(), Some(1460));
        p.set_checksum(checksum::update16(old_csum, 1460, 1380));
        assert!(p.verify_checksum(src, dst));
        assert_eq!(p.mss().unwrap(), Some(1380));
    }

    #[test]
    fn bad_options() {
        let mut b = syn();
        b[21] = 1; // MSS option length 1
        let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
        assert!(p.mss().is_err());
        assert!(p.set_mss(1).is_err());
        let mut b = syn();
        b[21] = 60; // runs past the options area
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.mss().unwrap_err(), WireError::Truncated);
        let mut b = syn();
        b[12] = 0x40;
        assert!(TcpPacket::new_checked(&b[..]).is_err());
        b[12] = 0xf0;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::Truncated
        );
        let mut b = syn();
        b[20] = 0; // EOL first: no MSS
        let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
        assert_eq!(p.set_mss(1).unwrap(), None);
    }
}
