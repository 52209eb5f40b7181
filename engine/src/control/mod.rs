//! The control entry points: each command builds the next snapshot from the
//! current one and publishes it whole, or refuses and publishes nothing.

pub mod boundary;
pub mod igw;
pub mod patch;
pub mod specs;
pub mod vpc;

pub use vpc::PortDirectory;
