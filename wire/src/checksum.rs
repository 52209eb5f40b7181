//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Partial sums are `u32` values already folded to 16 bits, so any number of
//! them can be added without overflow before [`finish`]. A partial sum is
//! only composable with others when its data starts at an even offset of the
//! summed whole (odd trailing bytes are padded with zero).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Result, WireError};

/// The one's complement sum of `data` as big-endian 16-bit words, folded to
/// 16 bits (but not complemented).
pub fn sum(data: &[u8]) -> u32 {
    // A u64 accumulator cannot overflow for any slice that fits in memory
    // (2^48 words of 0xffff), so one fold at the end is enough.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        if let [a, b] = w {
            acc += u64::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// Folds carries of a sum of partial sums back into 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum field value for a sum of partial sums.
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The Internet checksum of `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// The partial sum of the IPv4 pseudo-header (RFC 768, RFC 793).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    sum(&src.octets()) + sum(&dst.octets()) + u32::from(proto) + u32::from(len)
}

/// The partial sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    sum(&src.octets())
        + sum(&dst.octets())
        + u32::from(fold(len >> 16))
        + (len & 0xffff)
        + u32::from(proto)
}

/// The pseudo-header partial sum for either family; the addresses must be
/// of the same family and `len` must fit that family's length field.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Result<u32> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let len = u16::try_from(len).map_err(|_| WireError::Malformed("length"))?;
            Ok(pseudo_header_v4(s, d, proto, len))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).map_err(|_| WireError::Malformed("length"))?;
            Ok(pseudo_header_v6(&s, &d, proto, len))
        }
        _ => Err(WireError::Malformed("address family mismatch")),
    }
}

/// The new checksum after one 16-bit word of the summed data changed from
/// `old_word` to `new_word` (RFC 1624 eqn. 3, which never yields -0 where a
/// full recompute would not).
pub fn update16(old_csum: u16, old_word: u16, new_word: u16) -> u16 {
    !fold(u32::from(!old_csum) + u32::from(!old_word) + u32::from(new_word))
}

/// Like [`update16`] for a 32-bit field at an even offset (an IPv4 address,
/// a TCP sequence number).
pub fn update32(old_csum: u16, old: u32, new: u32) -> u16 {
    let s = u32::from(!old_csum)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !fold(s)
}

/// Like [`update16`] for a run of bytes at an even offset, such as an IPv6
/// address. `old` and `new` are summed as words independently, so they may
/// differ in length (the field grew or shrank), and an odd length is treated
/// as zero padding.
pub fn update_bytes(old_csum: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~fold(sum) is the one's complement negation of the old bytes' sum.
    !fold(u32::from(!old_csum) + u32::from(!fold(sum(old))) + sum(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64: deterministic pseudo-random bytes without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
        // Odd length pads with zero.
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn sum_of_all_ones_does_not_overflow() {
        let d = vec![0xffu8; 1 << 20];
        assert_eq!(fold(sum(&d)), 0xffff);
    }

    #[test]
    fn data_with_its_checksum_sums_to_all_ones() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for n in [2usize, 10, 20, 40, 64, 1500] {
            let mut d = rng.bytes(n);
            d[0] = 0;
            d[1] = 0;
            let c = checksum(&d);
            d[..2].copy_from_slice(&c.to_be_bytes());
            assert_eq!(fold(sum(&d)), 0xffff);
        }
    }

    #[test]
    fn incremental_matches_full_recompute() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for round in 0..2000 {
            let len = 2 * (2 + (rng.next() % 40) as usize);
            let mut d = rng.bytes(len);
            d[0] |= 1; // keep the data nonzero, as every real header is
            let before = checksum(&d);

            // One 16-bit word.
            let i = 2 * (rng.next() as usize % (len / 2));
            let old = u16::from_be_bytes([d[i], d[i + 1]]);
            let new = if round % 7 == 0 { 0 } else { rng.next() as u16 };
            d[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let c16 = update16(before, old, new);
            assert_eq!(c16, checksum(&d), "update16 round {round}");

            // One 32-bit word.
            if len >= 8 {
                let j = 2 * (rng.next() as usize % (len / 2 - 1));
                let old = u32::from_be_bytes([d[j], d[j + 1], d[j + 2], d[j + 3]]);
                let new = rng.next() as u32;
                d[j..j + 4].copy_from_slice(&new.to_be_bytes());
                assert_eq!(
                    update32(c16, old, new),
                    checksum(&d),
                    "update32 round {round}"
                );
            }
        }
    }

    #[test]
    fn update_bytes_matches_for_ipv6_addresses() {
        let mut rng = Rng(42);
        for _ in 0..500 {
            let mut d = rng.bytes(40);
            d[0] |= 1;
            let before = checksum(&d);
            let old: Vec<u8> = d[8..24].to_vec();
            let new = rng.bytes(16);
            d[8..24].copy_from_slice(&new);
            assert_eq!(update_bytes(before, &old, &new), checksum(&d));
        }
    }

    #[test]
    fn pseudo_headers() {
        let s = Ipv4Addr::new(10, 0, 0, 1);
        let d = Ipv4Addr::new(10, 0, 0, 2);
        let mut ph = Vec::new();
        ph.extend_from_slice(&s.octets());
        ph.extend_from_slice(&d.octets());
        ph.extend_from_slice(&[0, 17, 0, 30]);
        assert_eq!(fold(pseudo_header_v4(s, d, 17, 30)), fold(sum(&ph)));

        let s6: Ipv6Addr = "fd00::1".parse().unwrap();
        let d6: Ipv6Addr = "fd00::2".parse().unwrap();
        let mut ph = Vec::new();
        ph.extend_from_slice(&s6.octets());
        ph.extend_from_slice(&d6.octets());
        ph.extend_from_slice(&0x0001_0020u32.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            fold(pseudo_header_v6(&s6, &d6, 58, 0x0001_0020)),
            fold(sum(&ph))
        );
        assert!(pseudo_header(s.into(), d6.into(), 6, 20).is_err());
        assert!(pseudo_header(s.into(), d.into(), 6, 70_000).is_err());
    }
}
