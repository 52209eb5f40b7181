//! The metadata service end to end, with smoltcp guests as clients.

mod harness;
mod isolation;
mod limits;
mod malformed;
mod paths;
