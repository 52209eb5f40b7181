//! Geneve (RFC 8926), the overlay encapsulation, with Oxide's options.
//!
//! Header (RFC 8926 section 3.4):
//! ```text
//!  0                   1                   2                   3
//! |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//! |        Virtual Network Identifier (VNI)       |    Reserved   |
//! |                    Variable-Length Options                    |
//! ```
//! Option (section 3.5):
//! ```text
//! |          Option Class         |      Type     |R|R|R| Length  |
//! |                      Variable-Length Option Data              |
//! ```
//! Opt Len and Length count 4-byte words; Length excludes the option's own
//! 4-byte header. The top bit of Type marks the option critical.

use super::ethernet::ethertype;
use super::field::{put_u16, put_u8, slice, u16_at, u32_at, u8_at, Writer};
use super::{Result, WireError};

/// UDP destination port of Geneve.
pub const GENEVE_PORT: u16 = 6081;
/// Oxide's option class.
pub const OXIDE_OPT_CLASS: u16 = 0x0129;
/// Oxide option: traffic from outside the VPC (no body).
pub const OXIDE_OPT_EXTERNAL: u8 = 0x00;
/// Oxide option: multicast, 4-byte body whose top 2 bits are the mode.
pub const OXIDE_OPT_MULTICAST: u8 = 0x01;
/// Oxide option: the original TCP MSS, 4-byte body.
pub const OXIDE_OPT_MSS: u8 = 0x02;
/// The critical bit of an option type.
pub const OPT_CRITICAL: u8 = 0x80;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 8;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

const FLAG_OAM: u8 = 0x80;
const FLAG_CRITICAL: u8 = 0x40;

/// A view of a Geneve header and what it carries.
#[derive(Debug, Clone)]
pub struct GenevePacket<T: AsRef<[u8]>> {
    buffer: T,
}

/// One option, as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveOption<'a> {
    /// Option class.
    pub class: u16,
    /// Type byte, critical bit included.
    pub opt_type: u8,
    /// Option data (a multiple of 4 bytes).
    pub data: &'a [u8],
}

impl GeneveOption<'_> {
    /// Whether a receiver that does not know this option must drop the packet.
    pub fn is_critical(&self) -> bool {
        self.opt_type & OPT_CRITICAL != 0
    }
}

/// Iterates over the options area; stops after an error.
#[derive(Debug, Clone)]
pub struct GeneveOptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for GeneveOptionIter<'a> {
    type Item = Result<GeneveOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let r = slice(self.data, self.pos, 4).and_then(|h| {
            let len = usize::from(u8_at(h, 3) & 0x1f) * 4;
            let data = slice(self.data, self.pos + 4, len)?;
            Ok((
                GeneveOption {
                    class: u16_at(h, 0),
                    opt_type: u8_at(h, 2),
                    data,
                },
                4 + len,
            ))
        });
        match r {
            Ok((opt, len)) => {
                self.pos += len;
                Some(Ok(opt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<T: AsRef<[u8]>> GenevePacket<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        GenevePacket { buffer }
    }

    /// Wraps a buffer holding a version 0 header and its options.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// The checks behind [`GenevePacket::new_checked`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 0 {
            return Err(WireError::Unsupported("geneve version"));
        }
        if self.header_len() > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version (0).
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0) >> 6
    }

    /// Length of the options in 4-byte words.
    pub fn opt_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0) & 0x3f
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + usize::from(self.opt_len()) * 4
    }

    /// O: an OAM (control) packet, not to be forwarded as data.
    pub fn oam(&self) -> bool {
        u8_at(self.buffer.as_ref(), 1) & FLAG_OAM != 0
    }

    /// C: critical options are present.
    pub fn critical(&self) -> bool {
        u8_at(self.buffer.as_ref(), 1) & FLAG_CRITICAL != 0
    }

    /// Protocol type of the payload (0x6558: Ethernet).
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), 2)
    }

    /// The 24-bit VNI.
    pub fn vni(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 4) >> 8
    }

    /// The raw options area.
    pub fn options(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// The options, one by one.
    pub fn options_iter(&self) -> GeneveOptionIter<'_> {
        GeneveOptionIter {
            data: self.options(),
            pos: 0,
            done: false,
        }
    }

    /// The encapsulated frame.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GenevePacket<T> {
    /// Sets version 0, the options length in words and the O and C flags.
    pub fn set_header(&mut self, opt_len: u8, oam: bool, critical: bool) {
        let b = self.buffer.as_mut();
        put_u8(b, 0, opt_len & 0x3f);
        let mut f = 0;
        if oam {
            f |= FLAG_OAM;
        }
        if critical {
            f |= FLAG_CRITICAL;
        }
        put_u8(b, 1, f);
    }

    /// Sets the protocol type.
    pub fn set_protocol(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), 2, v);
    }

    /// Sets the VNI (low 24 bits) and clears the reserved byte after it.
    pub fn set_vni(&mut self, vni: u32) {
        let b = self.buffer.as_mut();
        put_u16(b, 4, (vni >> 8) as u16);
        put_u8(b, 6, vni as u8);
        put_u8(b, 7, 0);
    }

    /// The encapsulated frame, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        self.buffer.as_mut().get_mut(h..).unwrap_or(&mut [])
    }
}

/// A parsed Geneve header with Oxide's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveRepr {
    /// The 24-bit VNI.
    pub vni: u32,
    /// Protocol type of the payload.
    pub protocol: u16,
    /// Oxide External: the packet came from outside the VPC.
    pub external: bool,
    /// Oxide Multicast: the replication mode (0 to 3).
    pub multicast: Option<u8>,
    /// Oxide Mss: the original TCP MSS.
    pub mss: Option<u32>,
}

impl GeneveRepr {
    /// An Ethernet-carrying header for `vni` without options.
    pub fn new(vni: u32) -> GeneveRepr {
        GeneveRepr {
            vni,
            protocol: ethertype::TEB,
            external: false,
            multicast: None,
            mss: None,
        }
    }

    /// Parses the header and options. An unknown option with the critical
    /// bit set makes the packet unsupported (RFC 8926 section 3.5: drop);
    /// unknown non-critical options are skipped.
    pub fn parse<T: AsRef<[u8]>>(p: &GenevePacket<T>) -> Result<GeneveRepr> {
        p.check_len()?;
        let mut r = GeneveRepr {
            vni: p.vni(),
            protocol: p.protocol(),
            external: false,
            multicast: None,
            mss: None,
        };
        for opt in p.options_iter() {
            let opt = opt?;
            let known = opt.class == OXIDE_OPT_CLASS;
            match (known, opt.opt_type & !OPT_CRITICAL) {
                (true, OXIDE_OPT_EXTERNAL) => {
                    if !opt.data.is_empty() {
                        return Err(WireError::Malformed("geneve external option length"));
                    }
                    r.external = true;
                }
                (true, OXIDE_OPT_MULTICAST) => {
                    if opt.data.len() != 4 {
                        return Err(WireError::Malformed("geneve multicast option length"));
                    }
                    r.multicast = Some(u8_at(opt.data, 0) >> 6);
                }
                (true, OXIDE_OPT_MSS) => {
                    if opt.data.len() != 4 {
                        return Err(WireError::Malformed("geneve mss option length"));
                    }
                    r.mss = Some(u32_at(opt.data, 0));
                }
                _ if opt.is_critical() => {
                    return Err(WireError::Unsupported("critical geneve option"))
                }
                _ => {}
            }
        }
        Ok(r)
    }

    fn options_len(&self) -> usize {
        let mut n = 0;
        if self.external {
            n += 4;
        }
        if self.multicast.is_some() {
            n += 8;
        }
        if self.mss.is_some() {
            n += 8;
        }
        n
    }

    /// Header length, options included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Writes the header and the options set; none is marked critical.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut GenevePacket<T>) -> Result<()> {
        if self.vni > MAX_VNI {
            return Err(WireError::Malformed("VNI wider than 24 bits"));
        }
        if self.multicast.is_some_and(|m| m > 3) {
            return Err(WireError::Malformed("multicast replication mode"));
        }
        let len = self.buffer_len();
        if p.buffer.as_ref().len() < len {
            return Err(WireError::Truncated);
        }
        p.set_header((self.options_len() / 4) as u8, false, false);
        p.set_protocol(self.protocol);
        p.set_vni(self.vni);
        let b = p
            .buffer
            .as_mut()
            .get_mut(..len)
            .ok_or(WireError::Truncated)?;
        let mut w = Writer::new(b, HEADER_LEN);
        if self.external {
            w.u16(OXIDE_OPT_CLASS)?;
            w.u8(OXIDE_OPT_EXTERNAL)?;
            w.u8(0)?;
        }
        if let Some(mode) = self.multicast {
            w.u16(OXIDE_OPT_CLASS)?;
            w.u8(OXIDE_OPT_MULTICAST)?;
            w.u8(1)?;
            w.u32(u32::from(mode) << 30)?;
        }
        if let Some(mss) = self.mss {
            w.u16(OXIDE_OPT_CLASS)?;
            w.u8(OXIDE_OPT_MSS)?;
            w.u8(1)?;
            w.u32(mss)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_header_bytes() {
        // Ver 0, Opt Len 0, no flags, protocol 0x6558, VNI 0x00abcd, reserved.
        let b = [0x00, 0x00, 0x65, 0x58, 0x00, 0xab, 0xcd, 0x00, 0xee];
        let p = GenevePacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.vni(), 0xabcd);
        assert_eq!(p.payload(), &[0xee]);
        let r = GeneveRepr::parse(&p).unwrap();
        assert_eq!(r, GeneveRepr::new(0xabcd));
        let mut out = [0u8; 8];
        r.emit(&mut GenevePacket::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b[..8]);
    }

    #[test]
    fn oxide_options_bytes() {
        let r = GeneveRepr {
            vni: 99,
            protocol: ethertype::TEB,
            external: true,
            multicast: Some(2),
            mss: Some(1448),
        };
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut GenevePacket::new_unchecked(&mut out[..]))
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            0x05, 0x00, 0x65, 0x58, 0x00, 0x00, 0x63, 0x00, // Opt Len 5 words, VNI 99
            0x01, 0x29, 0x00, 0x00,                         // External, length 0
            0x01, 0x29, 0x01, 0x01, 0x80, 0x00, 0x00, 0x00, // Multicast, mode 2
            0x01, 0x29, 0x02, 0x01, 0x00, 0x00, 0x05, 0xa8, // Mss 1448
        ];
        assert_eq!(out, expect);
        let p = GenevePacket::new_checked(&out[..]).unwrap();
        assert_eq!(GeneveRepr::parse(&p).unwrap(), r);
    }

    #[test]
    fn unknown_options() {
        // Non-critical unknown (class 0x0102, type 0x05, 1 word), then External.
        let b = [
            0x03, 0x00, 0x65, 0x58, 0x00, 0x00, 0x01, 0x00, //
            0x01, 0x02, 0x05, 0x01, 1, 2, 3, 4, //
            0x01, 0x29, 0x00, 0x00,
        ];
        let p = GenevePacket::new_checked(&b[..]).unwrap();
        let r = GeneveRepr::parse(&p).unwrap();
        assert!(r.external);
        // The same unknown option marked critical.
        let mut c = b;
        c[10] = 0x85;
        let p = GenevePacket::new_checked(&c[..]).unwrap();
        assert_eq!(
            GeneveRepr::parse(&p).unwrap_err(),
            WireError::Unsupported("critical geneve option")
        );
        // An unknown critical type in Oxide's class.
        let mut c = b;
        c[16..20].copy_from_slice(&[0x01, 0x29, 0x83, 0x00]);
        let p = GenevePacket::new_checked(&c[..]).unwrap();
        assert!(GeneveRepr::parse(&p).is_err());
        // A known type marked critical is still known.
        let mut c = b;
        c[18] = 0x80;
        let p = GenevePacket::new_checked(&c[..]).unwrap();
        assert!(GeneveRepr::parse(&p).unwrap().external);
    }

    #[test]
    fn rejects() {
        let b = [0x40, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        assert!(matches!(
            GenevePacket::new_checked(&b[..]),
            Err(WireError::Unsupported(_))
        ));
        let b = [0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        assert_eq!(
            GenevePacket::new_checked(&b[..]).unwrap_err(),
            WireError::Truncated
        );
        // An option whose length runs past Opt Len.
        let b = [0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x29, 0x02, 0x01];
        let p = GenevePacket::new_checked(&b[..]).unwrap();
        assert_eq!(GeneveRepr::parse(&p).unwrap_err(), WireError::Truncated);
        // Mss with a 0-length body.
        let b = [0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x29, 0x02, 0x00];
        let p = GenevePacket::new_checked(&b[..]).unwrap();
        assert!(matches!(
            GeneveRepr::parse(&p),
            Err(WireError::Malformed(_))
        ));
        let mut out = [0u8; 8];
        let r = GeneveRepr::new(MAX_VNI + 1);
        assert!(r
            .emit(&mut GenevePacket::new_unchecked(&mut out[..]))
            .is_err());
    }
}
