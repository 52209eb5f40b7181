//! The control side by feature: each command belongs to one area (switch,
//! vpc, igw, boundary, flows), whose file carries it out. An area's
//! `handle` hands back any command not its own, and the manager tries the
//! areas in turn.

use vswitch_api::{Command, Reply, Response};

/// What an area made of a command.
pub(crate) enum Handled {
    /// Carried out (or refused with a message).
    Done(Result<Reply, String>),
    /// Refused with a whole response (`apply`'s list of every error).
    Refused(Box<Response>),
    /// Not this area's command.
    Not(Command),
}

/// The answer to a change that publishes a generation.
pub(crate) fn applied(r: Result<u64, String>) -> Result<Reply, String> {
    r.map(|generation| Reply::Applied { generation })
}
