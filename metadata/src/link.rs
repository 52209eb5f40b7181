//! The smoltcp device of one stack: at most one received packet in, a bounded
//! queue of packets to send out.

use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The IP MTU the stack assumes: its MSS is this less 40, and it never sends
/// more than the guest's MSS either.
pub(crate) const MTU: usize = 1500;

/// A device over borrowed queues, made afresh for each call into smoltcp.
pub(crate) struct Link<'a> {
    /// The packet to hand to the stack, if any (taken when received).
    rx: Option<&'a [u8]>,
    /// Packets the stack sent, waiting for `poll` to hand them out.
    tx: &'a mut VecDeque<Vec<u8>>,
    /// How many packets `tx` may hold.
    tx_cap: usize,
    /// Packets dropped because `tx` was full.
    dropped: u64,
}

impl<'a> Link<'a> {
    /// A link that receives `rx` (if any) and sends into `tx`, at most
    /// `tx_cap` packets deep.
    pub(crate) fn new(rx: Option<&'a [u8]>, tx: &'a mut VecDeque<Vec<u8>>, tx_cap: usize) -> Self {
        Link {
            rx,
            tx,
            tx_cap,
            dropped: 0,
        }
    }

    /// How many packets were dropped because the send queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Device for Link<'_> {
    type RxToken<'b>
        = RxToken<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let packet = self.rx.take()?;
        Some((
            RxToken { packet },
            TxToken {
                tx: &mut *self.tx,
                tx_cap: self.tx_cap,
                dropped: &mut self.dropped,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        if self.tx.len() >= self.tx_cap {
            return None;
        }
        Some(TxToken {
            tx: &mut *self.tx,
            tx_cap: self.tx_cap,
            dropped: &mut self.dropped,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// The received packet.
pub(crate) struct RxToken<'b> {
    packet: &'b [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.packet)
    }
}

/// Room for one packet to send.
pub(crate) struct TxToken<'b> {
    tx: &'b mut VecDeque<Vec<u8>>,
    tx_cap: usize,
    dropped: &'b mut u64,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut packet = vec![0; len];
        let result = f(&mut packet);
        if self.tx.len() < self.tx_cap {
            self.tx.push_back(packet);
        } else {
            *self.dropped += 1;
        }
        result
    }
}
