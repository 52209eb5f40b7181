//! The one thin safe layer over `dpdk-sys`: EAL, lcores, mempools, ports and
//! mbuf bursts. With `dpdk-sys`, the only crate of the appliance that holds `unsafe`
//! (besides the memory hints of `vswitch-mem`).
//!
//! Ownership follows DPDK's: an [`Burst`] owns the mbufs it holds and frees
//! whatever it still holds when dropped, so no path can leak an mbuf.

mod burst;
mod eal;
mod mempool;
mod port;
mod ring;

pub use burst::{Burst, MbufPacket, TxOutcome, BURST_MAX};
pub use eal::{launch_on_lcore, lcore_id, tsc_cycles, tsc_hz, wait_lcore, Eal};
pub use mempool::Mempool;
pub use port::{Configured, DevInfo, DevStats, LinkState, Port, PortSetup, RxQueue, TxQueue};
pub use ring::{spsc_ring, RingConsumer, RingProducer};

/// The DPDK version the bindings were generated against.
pub const DPDK_VERSION: &str = dpdk_sys::DPDK_VERSION;

/// A failed DPDK call: which call, its return code and DPDK's message.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {msg} ({code})")]
pub struct DpdkError {
    /// What was being done.
    pub op: String,
    /// The negative errno-style code DPDK returned.
    pub code: i32,
    /// `rte_strerror` of the code.
    pub msg: String,
}

impl DpdkError {
    /// An error from a DPDK return code (negative errno or `rte_errno`).
    pub fn from_code(op: impl Into<String>, code: i32) -> Self {
        let errnum = code.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local
        // NUL-terminated string that stays valid until the next call on this thread.
        let msg = unsafe {
            let p = dpdk_sys::rte_strerror(errnum);
            if p.is_null() {
                String::from("unknown error")
            } else {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        DpdkError {
            op: op.into(),
            code,
            msg,
        }
    }

    /// An error from the current `rte_errno`.
    pub fn last(op: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno; no other effect.
        let code = unsafe { dpdk_sys::vs_errno() };
        Self::from_code(op, -code)
    }
}
