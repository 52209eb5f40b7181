//! The rack fabric (README, *The rack fabric*): how a rack's underlay is
//! addressed and where the fleet's state lives.
//!
//! - [`plan`]: a rack's IPv6 /56 from its availability zone and rack
//!   number, sled N's /64 in it and the sled's own underlay address (::1);
//! - [`endpoints`]: endpoint addresses from ::100 of a sled's /64 upward,
//!   the lowest free one first, so that a released address is recycled;
//! - [`keys`]: the etcd key layout of the fleet's state, and [`records`]
//!   the values under it that are not the state document's own objects;
//! - [`view`]: what one switch is told: its part of the fleet's state.
//!
//! Everything here is pure: the etcd side wraps each allocation in a
//! transaction that compares the revision it read, so two controllers never
//! hand out the same address.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod endpoints;
pub mod keys;
pub mod migration;
pub mod plan;
pub mod pods;
pub mod records;
pub mod view;
