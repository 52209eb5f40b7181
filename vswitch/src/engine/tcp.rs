//! TCP connection state, tracked from the flags seen in both directions, to
//! choose how long a flow lives (MODEL.md, Flow tables: SYN phase 5 s,
//! established 8000 s, closing/TIME_WAIT 120 s, closed 0).

use super::Direction;

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Where a TCP connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// A SYN was seen, the handshake is not complete.
    SynSent,
    /// SYN and SYN-ACK seen.
    SynReceived,
    /// The handshake completed.
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN (TIME_WAIT-like).
    Closing,
    /// RST seen: the flow may be removed at once.
    Closed,
}

impl TcpState {
    /// The idle timeout for this state, in seconds.
    pub fn ttl_secs(self) -> u64 {
        match self {
            TcpState::SynSent | TcpState::SynReceived => 5,
            TcpState::Established => 8000,
            TcpState::FinWait | TcpState::Closing => 120,
            TcpState::Closed => 0,
        }
    }

    /// A short lowercase name for dumps.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::FinWait => "fin_wait",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }
}

/// Tracks one connection's state from the segments of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTracker {
    state: TcpState,
    /// Which directions have sent a FIN.
    fin_out: bool,
    fin_in: bool,
}

impl TcpTracker {
    /// A tracker for a connection whose first segment had `first_flags`.
    /// A flow first seen mid-stream (no SYN, e.g. after a table flush) is
    /// taken as established, so that it is not cut after 5 s.
    pub fn new(first_flags: u8) -> Self {
        let state = if first_flags & flags::RST != 0 {
            TcpState::Closed
        } else if first_flags & flags::SYN != 0 && first_flags & flags::ACK == 0 {
            TcpState::SynSent
        } else if first_flags & flags::SYN != 0 {
            TcpState::SynReceived
        } else {
            TcpState::Established
        };
        TcpTracker {
            state,
            fin_out: false,
            fin_in: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Updates the state with a segment seen in direction `dir`.
    pub fn update(&mut self, dir: Direction, f: u8) {
        if f & flags::RST != 0 {
            self.state = TcpState::Closed;
            return;
        }
        if f & flags::FIN != 0 {
            match dir {
                Direction::Out => self.fin_out = true,
                Direction::In => self.fin_in = true,
            }
        }
        self.state = match self.state {
            TcpState::Closed => TcpState::Closed,
            _ if self.fin_out && self.fin_in => TcpState::Closing,
            _ if self.fin_out || self.fin_in => TcpState::FinWait,
            TcpState::SynSent if f & flags::SYN != 0 && f & flags::ACK != 0 => {
                TcpState::SynReceived
            }
            TcpState::SynSent => TcpState::SynSent,
            TcpState::SynReceived if f & flags::ACK != 0 && f & flags::SYN == 0 => {
                TcpState::Established
            }
            s => s,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{In, Out};

    #[test]
    fn handshake_data_and_close() {
        let mut t = TcpTracker::new(flags::SYN);
        assert_eq!(t.state(), TcpState::SynSent);
        assert_eq!(t.state().ttl_secs(), 5);
        t.update(In, flags::SYN | flags::ACK);
        assert_eq!(t.state(), TcpState::SynReceived);
        t.update(Out, flags::ACK);
        assert_eq!(t.state(), TcpState::Established);
        assert_eq!(t.state().ttl_secs(), 8000);
        t.update(Out, flags::FIN | flags::ACK);
        assert_eq!(t.state(), TcpState::FinWait);
        t.update(In, flags::ACK);
        assert_eq!(t.state(), TcpState::FinWait);
        t.update(In, flags::FIN | flags::ACK);
        assert_eq!(t.state(), TcpState::Closing);
        assert_eq!(t.state().ttl_secs(), 120);
    }

    #[test]
    fn reset_closes_and_mid_stream_is_established() {
        let mut t = TcpTracker::new(flags::ACK);
        assert_eq!(t.state(), TcpState::Established);
        t.update(In, flags::RST);
        assert_eq!(t.state(), TcpState::Closed);
        assert_eq!(t.state().ttl_secs(), 0);
        t.update(Out, flags::SYN);
        assert_eq!(
            t.state(),
            TcpState::Closed,
            "a closed flow stays closed until it is removed"
        );
    }
}
