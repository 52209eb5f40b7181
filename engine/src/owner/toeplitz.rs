//! The symmetric hash that names a flow's owner worker: Toeplitz, as NICs
//! compute their RSS hash, with the key `0x6d5a` repeated (40 bytes).
//!
//! With a key whose bit pattern repeats every 16 bits, the Toeplitz window
//! at input bit `i` depends on `i mod 16` only, and the hash is linear over
//! GF(2) in its input: it equals the hash of the XOR of the input's 16-bit
//! words. Swapping source and destination (addresses and ports) leaves that
//! XOR unchanged, so both directions of a flow hash the same, here and in a
//! NIC programmed with [`SYMMETRIC_RSS_KEY`]. Two 256-entry tables (high and
//! low byte of the folded word) make the hash two loads.

use crate::{proto, FlowKey, KeyWords};
use std::net::IpAddr;

/// The RSS key programmed on ports that hash: `0x6d5a` repeated.
pub const SYMMETRIC_RSS_KEY: [u8; 40] = {
    let mut k = [0u8; 40];
    let mut i = 0;
    while i < 40 {
        k[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    k
};

/// The key's 32-bit window starting at bit `j` (0: the first byte's top bit).
const fn window(j: u32) -> u32 {
    let k: u64 = 0x6d5a_6d5a_6d5a_6d5a;
    ((k << (j % 16)) >> 32) as u32
}

/// Hash contribution of each value of the folded word's high (`[0]`) and
/// low (`[1]`) byte.
const TABLES: [[u32; 256]; 2] = {
    let mut t = [[0u32; 256]; 2];
    let mut half = 0;
    while half < 2 {
        let mut b = 0;
        while b < 256 {
            let mut h = 0u32;
            let mut bit = 0;
            while bit < 8 {
                if b & (0x80 >> bit) != 0 {
                    h ^= window(half * 8 + bit);
                }
                bit += 1;
            }
            t[half as usize][b as usize] = h;
            b += 1;
        }
        half += 1;
    }
    t
};

/// The Toeplitz hash of an input whose 16-bit words XOR to `fold`.
#[inline(always)]
pub fn hash_folded(fold: u16) -> u32 {
    TABLES[0][(fold >> 8) as usize] ^ TABLES[1][(fold & 0xff) as usize]
}

#[inline(always)]
fn fold_addr(a: &IpAddr) -> u16 {
    match a {
        IpAddr::V4(v4) => {
            let x = u32::from_be_bytes(v4.octets());
            (x >> 16) as u16 ^ x as u16
        }
        IpAddr::V6(v6) => {
            let x = u128::from_be_bytes(v6.octets());
            let x = (x >> 64) as u64 ^ x as u64;
            let x = (x >> 32) as u32 ^ x as u32;
            (x >> 16) as u16 ^ x as u16
        }
    }
}

/// The hash a NIC with [`SYMMETRIC_RSS_KEY`] computes for a packet of flow
/// `key`: addresses and ports for TCP and UDP, addresses alone otherwise
/// (as the 2-tuple hash of other IP traffic). The same for both directions.
#[inline]
pub fn flow_hash(key: &FlowKey) -> u32 {
    let mut fold = fold_addr(&key.src) ^ fold_addr(&key.dst);
    if matches!(key.proto, proto::TCP | proto::UDP) {
        fold ^= key.src_port ^ key.dst_port;
    }
    hash_folded(fold)
}

/// [`flow_hash`] of a key in its packed form (`FlowKey::words`: addresses
/// as two words each, IPv4 in the low half, then protocol and ports), read
/// straight from the frame without building the key.
#[inline(always)]
pub fn words_hash(w: &KeyWords) -> u32 {
    let a = w[0] ^ w[1] ^ w[2] ^ w[3];
    let a = (a >> 32) as u32 ^ a as u32;
    let mut fold = (a >> 16) as u16 ^ a as u16;
    let misc = w[4];
    if matches!((misc >> 56) as u8, proto::TCP | proto::UDP) {
        fold ^= (misc >> 16) as u16 ^ misc as u16;
    }
    hash_folded(fold)
}

/// Toeplitz over `input`, bit by bit, with any key (the definition; tests
/// check the folded form against it).
#[cfg(test)]
pub fn toeplitz_reference(key: &[u8], input: &[u8]) -> u32 {
    let mut result = 0u32;
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    let mut next = 32;
    for byte in input {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                result ^= window;
            }
            let kb = key.get(next / 8).map_or(0, |b| (b >> (7 - next % 8)) & 1);
            window = (window << 1) | kb as u32;
            next += 1;
        }
    }
    result
}
