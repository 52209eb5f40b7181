//! Ethernet II frames, with at most one 802.1Q tag.

use super::field::{mac_at, put, put_u16, u16_at};
use super::{MacAddr, Result, WireError};

/// EtherType values the switch handles.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ); recognised only to be refused.
    pub const QINQ: u16 = 0x88a8;
    /// Transparent Ethernet Bridging, Geneve's protocol type for an inner frame.
    pub const TEB: u16 = 0x6558;
}

const DST: usize = 0;
const SRC: usize = 6;
const TYPE: usize = 12;
const TCI: usize = 14;
const INNER_TYPE: usize = 16;

/// Header length without a tag.
pub const HEADER_LEN: usize = 14;
/// Header length with one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer that holds at least the (possibly tagged) header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the header, including a tag if there is one, fits.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), DST)
    }

    /// Source address.
    pub fn src(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), SRC)
    }

    /// The EtherType right after the addresses (0x8100 when tagged).
    pub fn outer_ethertype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), TYPE)
    }

    /// The 802.1Q tag control information (PCP, DEI, VID), if tagged.
    pub fn vlan(&self) -> Option<u16> {
        self.is_tagged().then(|| u16_at(self.buffer.as_ref(), TCI))
    }

    /// The 12-bit VLAN id, if tagged.
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan().map(|tci| tci & 0x0fff)
    }

    /// The EtherType of the payload, after one tag if there is one.
    pub fn ethertype(&self) -> u16 {
        if self.is_tagged() {
            u16_at(self.buffer.as_ref(), INNER_TYPE)
        } else {
            self.outer_ethertype()
        }
    }

    /// 14, or 18 with a tag.
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Everything after the header (Ethernet padding included).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }

    fn is_tagged(&self) -> bool {
        self.outer_ethertype() == ethertype::VLAN
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, mac: MacAddr) {
        put(self.buffer.as_mut(), DST, &mac.0);
    }

    /// Sets the source address.
    pub fn set_src(&mut self, mac: MacAddr) {
        put(self.buffer.as_mut(), SRC, &mac.0);
    }

    /// Sets the payload EtherType (after the tag, if tagged).
    pub fn set_ethertype(&mut self, value: u16) {
        let off = if self.is_tagged() { INNER_TYPE } else { TYPE };
        put_u16(self.buffer.as_mut(), off, value);
    }

    /// Rewrites the tag control information of an already tagged frame;
    /// adding or removing a tag changes the frame length and is the caller's.
    pub fn set_vlan(&mut self, tci: u16) -> Result<()> {
        if !self.is_tagged() {
            return Err(WireError::Malformed("frame is not tagged"));
        }
        put_u16(self.buffer.as_mut(), TCI, tci);
        Ok(())
    }

    /// Everything after the header, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        self.buffer.as_mut().get_mut(h..).unwrap_or(&mut [])
    }
}

/// A parsed Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Source address.
    pub src: MacAddr,
    /// Destination address.
    pub dst: MacAddr,
    /// 802.1Q tag control information, if tagged.
    pub vlan: Option<u16>,
    /// Payload EtherType.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Reads the header of a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src(),
            dst: frame.dst(),
            vlan: frame.vlan(),
            ethertype: frame.ethertype(),
        })
    }

    /// Header length: 14, or 18 with a tag.
    pub fn buffer_len(&self) -> usize {
        if self.vlan.is_some() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header at the start of the frame's buffer.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) -> Result<()> {
        let b = frame.buffer.as_mut();
        if b.len() < self.buffer_len() {
            return Err(WireError::Truncated);
        }
        put(b, DST, &self.dst.0);
        put(b, SRC, &self.src.0);
        match self.vlan {
            Some(tci) => {
                put_u16(b, TYPE, ethertype::VLAN);
                put_u16(b, TCI, tci);
                put_u16(b, INNER_TYPE, self.ethertype);
            }
            None => put_u16(b, TYPE, self.ethertype),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNTAGGED: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src
        0x08, 0x06, // ARP
        0xaa, 0xbb,
    ];

    #[test]
    fn untagged() {
        let f = EthernetFrame::new_checked(&UNTAGGED[..]).unwrap();
        assert!(f.dst().is_broadcast());
        assert_eq!(f.src().to_string(), "02:00:00:00:00:01");
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.vlan(), None);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
        let r = EthernetRepr::parse(&f).unwrap();
        let mut out = [0u8; 14];
        r.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(&out[..], &UNTAGGED[..14]);
    }

    #[test]
    fn tagged() {
        let r = EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 1]),
            dst: MacAddr([2, 0, 0, 0, 0, 2]),
            vlan: Some(0x2064),
            ethertype: ethertype::IPV6,
        };
        let mut out = [0u8; 18];
        let mut f = EthernetFrame::new_unchecked(&mut out[..]);
        r.emit(&mut f).unwrap();
        f.set_vlan(0x0065).unwrap();
        assert_eq!(&out[12..18], &[0x81, 0x00, 0x00, 0x65, 0x86, 0xdd]);
        let f = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(f.vlan_id(), Some(0x65));
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.ethertype(), ethertype::IPV6);
        // A tag whose inner EtherType is cut off.
        assert_eq!(
            EthernetFrame::new_checked(&out[..17]).unwrap_err(),
            WireError::Truncated
        );
        assert!(r
            .emit(&mut EthernetFrame::new_unchecked(&mut [0u8; 17][..]))
            .is_err());
    }

    #[test]
    fn short() {
        assert!(EthernetFrame::new_checked(&UNTAGGED[..13]).is_err());
        let f = EthernetFrame::new_unchecked(&[][..]);
        assert_eq!(f.ethertype(), 0);
        assert!(f.payload().is_empty());
    }
}
