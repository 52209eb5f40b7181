//! The engine's view of a packet buffer: contiguous bytes that can grow or
//! shrink at the front (encapsulation, decapsulation) and be resized (a
//! generated reply). Implemented over an mbuf by the DPDK layer and over a
//! `Vec` here, for tests.

/// A packet the engine may edit in place.
pub trait PacketBuf {
    /// The packet's bytes.
    fn bytes(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Adds `n` bytes in front (uninitialised content); false if there is no headroom.
    fn prepend(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front; false if the packet is shorter.
    fn strip_front(&mut self, n: usize) -> bool;
    /// Sets the length to `len`, growing into tailroom or shrinking; false if it cannot.
    fn resize(&mut self, len: usize) -> bool;
}

/// A burst of received packets, which the engine processes together (its
/// prefetch passes run over the whole burst). Implemented over a burst of
/// mbufs by the DPDK layer and over a slice of [`VecPacket`]s here.
pub trait PacketBurst {
    /// A packet of the burst, editable in place.
    type Packet<'a>: PacketBuf
    where
        Self: 'a;
    /// How many packets the burst holds.
    fn count(&self) -> usize;
    /// Packet `i`'s bytes, when it is one contiguous segment (the engine
    /// edits only those; any other is dropped as unsupported).
    fn contiguous(&self, i: usize) -> Option<&[u8]>;
    /// Starts loading packet `i`'s data into cache (nothing past the end).
    fn prefetch(&self, i: usize);
    /// Packet `i`, editable (asked only of contiguous packets).
    fn packet(&mut self, i: usize) -> Self::Packet<'_>;
}

/// A packet in a `Vec` with headroom, for tests and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecPacket {
    buf: Vec<u8>,
    start: usize,
}

/// Headroom of a [`VecPacket`], as much as an mbuf has by default.
pub const VEC_HEADROOM: usize = 128;

impl VecPacket {
    /// A packet holding `bytes`, with [`VEC_HEADROOM`] bytes of headroom.
    pub fn new(bytes: &[u8]) -> Self {
        let mut buf = vec![0u8; VEC_HEADROOM];
        buf.extend_from_slice(bytes);
        VecPacket {
            buf,
            start: VEC_HEADROOM,
        }
    }

    /// The packet's bytes as a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().to_vec()
    }
}

impl PacketBuf for VecPacket {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }

    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }

    fn strip_front(&mut self, n: usize) -> bool {
        if n > self.buf.len() - self.start {
            return false;
        }
        self.start += n;
        true
    }

    fn resize(&mut self, len: usize) -> bool {
        // Bounded like an mbuf's data room, so tests see the same limits.
        if len > 2048 {
            return false;
        }
        self.buf.resize(self.start + len, 0);
        true
    }
}

impl PacketBurst for [VecPacket] {
    type Packet<'a> = &'a mut VecPacket;

    fn count(&self) -> usize {
        self.len()
    }

    fn contiguous(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|p| p.bytes())
    }

    fn prefetch(&self, _i: usize) {}

    fn packet(&mut self, i: usize) -> &mut VecPacket {
        &mut self[i]
    }
}

impl<T: PacketBuf + ?Sized> PacketBuf for &mut T {
    fn bytes(&self) -> &[u8] {
        (**self).bytes()
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        (**self).bytes_mut()
    }
    fn prepend(&mut self, n: usize) -> bool {
        (**self).prepend(n)
    }
    fn strip_front(&mut self, n: usize) -> bool {
        (**self).strip_front(n)
    }
    fn resize(&mut self, len: usize) -> bool {
        (**self).resize(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_shrinks_at_the_front() {
        let mut p = VecPacket::new(&[1, 2, 3]);
        assert!(p.prepend(2));
        p.bytes_mut()[..2].copy_from_slice(&[9, 9]);
        assert_eq!(p.bytes(), &[9, 9, 1, 2, 3]);
        assert!(p.strip_front(3));
        assert_eq!(p.bytes(), &[2, 3]);
        assert!(!p.strip_front(3));
        assert!(!p.prepend(VEC_HEADROOM + 10));
        assert!(p.resize(4));
        assert_eq!(p.bytes(), &[2, 3, 0, 0]);
        assert!(!p.resize(4096));
    }
}
