//! Raw FFI bindings to DPDK 22.11, generated at build time against Debian's
//! `libdpdk` with bindgen, plus `vs_*` wrappers of DPDK's `static inline`
//! functions (rx/tx burst, mbuf alloc/free, ...) compiled from `shim/shim.c`.
//!
//! Everything here is `unsafe`; the appliance wraps it in `vswitch::dpdk`.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The DPDK version the bindings were generated against (pkg-config's modversion).
pub const DPDK_VERSION: &str = env!("DPDK_VERSION");
