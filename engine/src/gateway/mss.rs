//! TCP MSS clamping: a SYN (either way) whose MSS option would let the other
//! end send segments larger than the guest's path allows gets the option
//! lowered, and the TCP checksum adjusted (RFC 1624), so that connections
//! work whatever the guest's interface MTU and without relying on ICMP.

use wire::checksum;

/// IPv4 and TCP headers without options.
const V4_HEADERS: u16 = 40;
/// IPv6 and TCP headers without options.
const V6_HEADERS: u16 = 60;

/// Lowers the MSS option of the TCP SYN in `frame` (untagged Ethernet;
/// IPv4, or IPv6 without extension headers) to what fits `mtu`; returns
/// whether it changed anything. Any other frame is left alone.
pub fn clamp(frame: &mut [u8], mtu: u16) -> bool {
    let (tcp_at, headers) = match frame.get(12..14) {
        Some([0x08, 0x00]) => {
            let Some(&[vihl, .., proto]) = frame.get(14..24) else {
                return false;
            };
            let Some(frag) = frame.get(20..22) else {
                return false;
            };
            // Not a later fragment, and TCP.
            if vihl >> 4 != 4 || proto != 6 || u16::from_be_bytes([frag[0], frag[1]]) & 0x1fff != 0
            {
                return false;
            }
            (14 + usize::from(vihl & 0x0f) * 4, V4_HEADERS)
        }
        Some([0x86, 0xdd]) => match frame.get(20) {
            Some(6) => (54, V6_HEADERS),
            _ => return false,
        },
        _ => return false,
    };
    let max = mtu.saturating_sub(headers);
    let Some(tcp) = frame.get_mut(tcp_at..) else {
        return false;
    };
    let Some(&[off, flags]) = tcp.get(12..14) else {
        return false;
    };
    let doff = usize::from(off >> 4) * 4;
    if flags & 0x02 == 0 || doff < 20 || doff > tcp.len() {
        return false;
    }
    let mut at = 20;
    while at < doff {
        match tcp.get(at).copied() {
            Some(0) | None => return false,
            Some(1) => at += 1,
            Some(kind) => {
                let len = usize::from(tcp.get(at + 1).copied().unwrap_or(0));
                if len < 2 || at + len > doff {
                    return false;
                }
                if kind == 2 && len == 4 {
                    let Some(v) = tcp.get(at + 2..at + 4) else {
                        return false;
                    };
                    let old = u16::from_be_bytes([v[0], v[1]]);
                    if old <= max {
                        return false;
                    }
                    let Some(c) = tcp.get(16..18) else {
                        return false;
                    };
                    let csum = checksum::update16(u16::from_be_bytes([c[0], c[1]]), old, max);
                    if let Some(v) = tcp.get_mut(at + 2..at + 4) {
                        v.copy_from_slice(&max.to_be_bytes());
                    }
                    if let Some(c) = tcp.get_mut(16..18) {
                        c.copy_from_slice(&csum.to_be_bytes());
                    }
                    return true;
                }
                at += len;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};

    fn syn(v6: bool, mss: u16, ack: bool) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let b = if v6 {
            b.ipv6([0xfd; 16], [0xfe; 16], 64)
        } else {
            b.ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        };
        let t = b.tcp(40000, 80, 7, 64240).syn();
        let t = if ack { t.ack(1) } else { t };
        let t = t
            .options(&[
                TcpOptionElement::MaximumSegmentSize(mss),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap();
        let mut v = Vec::new();
        t.write(&mut v, &[]).unwrap();
        v
    }

    /// The MSS and whether the TCP checksum is right (checked by etherparse).
    fn mss_of(f: &[u8]) -> (u16, bool) {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!("not TCP")
        };
        let mss = t
            .options_iterator()
            .find_map(|o| match o {
                Ok(TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
                _ => None,
            })
            .unwrap();
        let ok = match &p.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                t.to_header()
                    .calc_checksum_ipv4(&ip.header().to_header(), t.payload())
                    .unwrap()
                    == t.checksum()
            }
            Some(etherparse::NetSlice::Ipv6(ip)) => {
                t.to_header()
                    .calc_checksum_ipv6(&ip.header().to_header(), t.payload())
                    .unwrap()
                    == t.checksum()
            }
            _ => false,
        };
        (mss, ok)
    }

    #[test]
    fn syns_are_clamped_to_the_path_both_families() {
        for (v6, want) in [(false, 1390), (true, 1370)] {
            for ack in [false, true] {
                let mut f = syn(v6, 1460, ack);
                assert!(clamp(&mut f, 1430));
                assert_eq!(mss_of(&f), (want, true), "v6 {v6} ack {ack}");
                assert!(!clamp(&mut f, 1430), "already fits");
            }
            let mut small = syn(v6, 536, false);
            let before = small.clone();
            assert!(!clamp(&mut small, 1430), "a smaller MSS is kept");
            assert_eq!(small, before);
        }
    }

    #[test]
    fn non_syns_and_other_frames_are_untouched_and_nothing_panics() {
        let mut f = syn(false, 1460, false);
        f[14 + 20 + 13] = 0x10; // ACK only
        let before = f.clone();
        assert!(!clamp(&mut f, 1430));
        assert_eq!(f, before);
        let base = syn(false, 1460, false);
        for cut in 0..base.len() {
            let mut g = base[..cut].to_vec();
            clamp(&mut g, 1430);
        }
        // Garbage option lengths end the walk.
        let mut g = base.clone();
        g[14 + 20 + 21] = 0;
        assert!(!clamp(&mut g, 1430));
        let mut g = base;
        g[14 + 20 + 21] = 200;
        assert!(!clamp(&mut g, 1430));
    }
}
