//! Guest ports created at run time, kept in the state document so that a
//! restarted switch creates them again before it loads the NICs bound to them.

use serde::{Deserialize, Serialize};

/// A guest port created at run time by DPDK hot-plug.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuntimePortState {
    /// Port name (unique among all the switch's ports).
    pub name: String,
    /// The virtual device's devargs (`net_tap1,iface=g3`).
    pub devargs: String,
    /// `guest`: the only role a run-time port may have.
    pub role: String,
}
