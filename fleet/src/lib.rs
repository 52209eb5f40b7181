//! The fleet's state in etcd (README, *The rack fabric*): the rack plan,
//! sleds, endpoint addresses and names under the key layout of
//! `vswitch_fabric::keys`, every allocation an etcd transaction that
//! succeeds only if the key it claims is still free, so that two
//! controllers never hand out the same sled number or address.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alloc;
pub mod dns;
pub mod migrate;
pub mod objects;
pub mod paged;
pub mod pods;
pub mod store;

pub use alloc::{Endpoint, FleetError, Name, Sled};
pub use store::Store;
