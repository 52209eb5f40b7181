//! The generator's frames: Ethernet + IPv4 + UDP of a fixed size, one flow per
//! (source address, source port) pair.

/// Builds the frame of flow `flow` into `out` (whose length is the frame size, at least 42).
pub fn build(out: &mut [u8], flow: u32) {
    let len = out.len();
    // Ethernet: locally administered unicast MACs.
    out[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    out[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    out[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    // IPv4.
    let ip_len = (len - 14) as u16;
    let src = 0x0a00_0001u32 + (flow >> 15);
    let ip = &mut out[14..34];
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&[0, 0]);
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&src.to_be_bytes());
    ip[16..20].copy_from_slice(&0x0a00_0002u32.to_be_bytes());
    let sum = checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    // UDP, checksum 0 (optional over IPv4).
    let sport = 1024 + (flow & 0x7fff) as u16;
    let udp = &mut out[34..42];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
    // Payload: the flow id, then a fixed pattern.
    if len >= 46 {
        out[42..46].copy_from_slice(&flow.to_be_bytes());
        for (i, b) in out[46..].iter_mut().enumerate() {
            *b = i as u8;
        }
    }
}

/// The flow id a frame of [`build`] carries, if it is one.
pub fn flow_of(frame: &[u8]) -> Option<u32> {
    if frame.len() < 46 || frame[12..14] != [0x08, 0x00] || frame[23] != 17 {
        return None;
    }
    Some(u32::from_be_bytes([
        frame[42], frame[43], frame[44], frame[45],
    ]))
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += w as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_valid_and_carry_their_flow() {
        let mut f = vec![0u8; 64];
        build(&mut f, 70_000);
        assert_eq!(checksum(&f[14..34]), 0, "IPv4 header checksum verifies");
        assert_eq!(u16::from_be_bytes([f[16], f[17]]), 50);
        assert_eq!(flow_of(&f), Some(70_000));
        let mut g = vec![0u8; 64];
        build(&mut g, 70_001);
        assert_ne!(
            &f[34..36],
            &g[34..36],
            "different flows differ in source port"
        );
    }
}
