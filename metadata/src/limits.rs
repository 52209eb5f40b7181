//! The bounds of the service: how many tenants, connections and bytes.

use std::time::Duration;

/// Every bound of a [`MetadataServer`](crate::MetadataServer).
///
/// A hostile guest may flood SYNs, open connections and never send, or send
/// an endless request head; these numbers cap what that costs. Memory is at
/// most about `max_stacks * conns_per_stack * (rx_buffer + tx_buffer +
/// max_request)` plus smoltcp's fixed per-interface and per-socket state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How many tenant stacks may exist at once (default 1024). A new tenant
    /// when full evicts the least recently used stack that has no open
    /// connection, else its packet is refused.
    pub max_stacks: usize,
    /// Listening TCP sockets on port 80 per stack, so the most connections a
    /// tenant may have at once (default 4). A SYN past that is reset.
    pub conns_per_stack: usize,
    /// Receive buffer of each socket in bytes, hence the TCP window (default
    /// 2048). Raised to at least [`Limits::MIN_BUFFER`], lowered to at most
    /// [`Limits::MAX_RX_BUFFER`].
    pub rx_buffer: usize,
    /// Transmit buffer of each socket in bytes (default 16384). Raised to at
    /// least [`Limits::MIN_BUFFER`].
    pub tx_buffer: usize,
    /// The request head (request line and headers, up to the blank line) must
    /// end within this many bytes, else the answer is 400 and the connection
    /// closes (default 2048).
    pub max_request: usize,
    /// A connection with no progress for this long is aborted; a stack with
    /// no connection for this long is freed (default 30 s).
    pub idle: Duration,
}

impl Limits {
    /// The smallest socket buffer used, whatever the limits say.
    pub const MIN_BUFFER: usize = 64;
    /// The largest receive buffer smoltcp accepts (a TCP window of 1 GiB).
    pub const MAX_RX_BUFFER: usize = 1 << 30;

    /// The receive buffer size actually used.
    pub(crate) fn rx_bytes(&self) -> usize {
        self.rx_buffer.clamp(Self::MIN_BUFFER, Self::MAX_RX_BUFFER)
    }

    /// The transmit buffer size actually used.
    pub(crate) fn tx_bytes(&self) -> usize {
        self.tx_buffer.max(Self::MIN_BUFFER)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stacks: 1024,
            conns_per_stack: 4,
            rx_buffer: 2048,
            tx_buffer: 16384,
            max_request: 2048,
            idle: Duration::from_secs(30),
        }
    }
}
