//! TCP connection state, tracked from the flags seen in both directions, to
//! choose how long a flow lives (SYN phase 5 s, established 8000 s,
//! closing/TIME_WAIT 120 s, closed 0) and how early it may be evicted from a
//! full flow table (see `table.rs`). A segment that is not a SYN and
//! belongs to no known flow is tracked only briefly (5 s) until the other
//! side answers: otherwise anyone could fill the table with 8000 s entries by
//! sending bare ACKs.

use crate::Direction;

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Where a TCP connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// A SYN was seen, the handshake is not complete.
    SynSent,
    /// First seen mid-stream (no SYN: e.g. after a table flush, or a
    /// forged segment); established once the other side answers.
    MidStream,
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
            TcpState::SynSent | TcpState::SynReceived | TcpState::MidStream => 5,
            TcpState::Established => 8000,
            TcpState::FinWait | TcpState::Closing => 120,
            TcpState::Closed => 0,
        }
    }

    /// A short lowercase name for dumps.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::SynSent => "syn_sent",
            TcpState::MidStream => "mid_stream",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::FinWait => "fin_wait",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }

    /// The state named `s` ([`Self::as_str`]'s names).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "syn_sent" => TcpState::SynSent,
            "mid_stream" => TcpState::MidStream,
            "syn_received" => TcpState::SynReceived,
            "established" => TcpState::Established,
            "fin_wait" => TcpState::FinWait,
            "closing" => TcpState::Closing,
            "closed" => TcpState::Closed,
            _ => return None,
        })
    }
}

/// Tracks one connection's state from the segments of both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTracker {
    state: TcpState,
    /// Which directions have sent a FIN.
    fin_out: bool,
    fin_in: bool,
    /// The direction of the first segment (a mid-stream flow waits for the other).
    first: Direction,
}

impl TcpTracker {
    /// A tracker for a connection whose first segment, seen in direction
    /// `first`, had `first_flags`. A flow first seen mid-stream (no SYN) is
    /// [`TcpState::MidStream`] until a segment comes the other way.
    pub fn new(first: Direction, first_flags: u8) -> Self {
        let state = if first_flags & flags::RST != 0 {
            TcpState::Closed
        } else if first_flags & flags::SYN != 0 && first_flags & flags::ACK == 0 {
            TcpState::SynSent
        } else if first_flags & flags::SYN != 0 {
            TcpState::SynReceived
        } else {
            TcpState::MidStream
        };
        TcpTracker {
            state,
            fin_out: false,
            fin_in: false,
            first,
        }
    }

    /// The current state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Which sides sent a FIN (guest, remote) and the first segment's
    /// direction: with [`Self::state`], all a migration carries.
    pub fn parts(&self) -> (bool, bool, Direction) {
        (self.fin_out, self.fin_in, self.first)
    }

    /// A tracker carried from another switch ([`Self::parts`]).
    pub fn restored(state: TcpState, fin_out: bool, fin_in: bool, first: Direction) -> Self {
        TcpTracker {
            state,
            fin_out,
            fin_in,
            first,
        }
    }

    /// Updates the state with a segment seen in direction `dir`.
    pub fn update(&mut self, dir: Direction, f: u8) {
        if f & flags::RST != 0 {
            self.state = TcpState::Closed;
            return;
        }
        // Until the other side answers, nothing the first side sends moves
        // the flow to a longer-lived state (a FIN would give 120 s).
        let answered = dir != self.first;
        let syn_ack = f & flags::SYN != 0 && f & flags::ACK != 0;
        self.state = match self.state {
            TcpState::Closed => TcpState::Closed,
            TcpState::SynSent if answered && syn_ack => TcpState::SynReceived,
            TcpState::SynSent => TcpState::SynSent,
            TcpState::MidStream if !answered => TcpState::MidStream,
            s => {
                if f & flags::FIN != 0 {
                    match dir {
                        Direction::Out => self.fin_out = true,
                        Direction::In => self.fin_in = true,
                    }
                }
                match s {
                    _ if self.fin_out && self.fin_in => TcpState::Closing,
                    _ if self.fin_out || self.fin_in => TcpState::FinWait,
                    TcpState::MidStream => TcpState::Established,
                    TcpState::SynReceived if f & flags::ACK != 0 && f & flags::SYN == 0 => {
                        TcpState::Established
                    }
                    s => s,
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{In, Out};

    #[test]
    fn handshake_data_and_close() {
        let mut t = TcpTracker::new(Out, flags::SYN);
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
    fn mid_stream_waits_for_the_other_side() {
        let mut t = TcpTracker::new(In, flags::ACK);
        assert_eq!(t.state(), TcpState::MidStream);
        assert_eq!(t.state().ttl_secs(), 5, "a bare ACK is kept only briefly");
        t.update(In, flags::ACK | flags::PSH);
        assert_eq!(t.state(), TcpState::MidStream, "more from the same side");
        t.update(Out, flags::ACK);
        assert_eq!(t.state(), TcpState::Established, "the other side answered");
        assert_eq!(t.state().ttl_secs(), 8000);
    }

    #[test]
    fn the_first_side_alone_never_lengthens_a_flow() {
        let mut t = TcpTracker::new(Out, flags::SYN);
        t.update(Out, flags::FIN | flags::ACK);
        t.update(Out, flags::SYN | flags::ACK);
        assert_eq!(t.state(), TcpState::SynSent, "{:?}", t.state());
        let mut t = TcpTracker::new(In, flags::ACK);
        t.update(In, flags::FIN | flags::ACK);
        assert_eq!(t.state(), TcpState::MidStream);
        assert_eq!(t.state().ttl_secs(), 5);
    }

    #[test]
    fn reset_closes() {
        let mut t = TcpTracker::new(Out, flags::ACK);
        t.update(In, flags::ACK);
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
