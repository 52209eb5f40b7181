//! Minimal pcap (libpcap classic format, Ethernet) reading and writing.

use std::path::Path;

/// Writes `frames` to a pcap file.
pub fn write(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// Reads every frame of a pcap file.
pub fn read(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("read pcap");
    assert!(data.len() >= 24, "pcap too short");
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d,
        "not a little-endian pcap: {magic:#x}"
    );
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl =
            u32::from_le_bytes([data[off + 8], data[off + 9], data[off + 10], data[off + 11]])
                as usize;
        off += 16;
        frames.push(data[off..off + incl].to_vec());
        off += incl;
    }
    frames
}

/// `n` distinct Ethernet/IPv4/UDP frames of varied sizes (60 to 1514 bytes).
pub fn sample_frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = 60 + (i * 97) % (1514 - 60 + 1);
            let mut f = vec![0u8; len];
            f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
            f[6..12].copy_from_slice(&[0x02, 0, 0, 0, (i >> 8) as u8, i as u8]);
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
            f[22] = 64;
            f[23] = 17;
            f[26..30].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
            f[30..34].copy_from_slice(&[10, 9, 9, 9]);
            for (j, b) in f[42..].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(31).wrapping_add(j as u8);
            }
            f
        })
        .collect()
}
