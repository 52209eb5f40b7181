//! The firewall's stateful decision (docs/VPC-MODEL.md, *Firewall*): a
//! connection is judged in the direction of its first allowed packet, and
//! the other direction of an allowed connection passes without a rule.
//! Written once, for both directions.

use super::{FwAction, FwContext};
use crate::vnic::Vnic;
use crate::{Direction, FlowKey};

/// A connection's standing with the firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The direction the connection was made in.
    pub origin: Direction,
    /// Whether the rules allowed it in that direction.
    pub allowed: bool,
}

/// Judges a packet moving in `dir` (its key as it travels, `key`) of a
/// connection whose standing so far is `prior` (`None`: a new one). A reply
/// to an allowed connection made the other way passes; anything else is
/// evaluated by the rules. An allowed packet makes its direction the
/// connection's origin, even if an earlier unsolicited packet from the other
/// side was denied.
pub fn admit(
    vnic: &Vnic,
    dir: Direction,
    key: &FlowKey,
    remote_vni: Option<u32>,
    prior: Option<Standing>,
) -> Standing {
    if let Some(p) = prior.filter(|p| p.allowed && p.origin != dir) {
        return p;
    }
    let allowed = rules_allow(vnic, dir, key, remote_vni);
    Standing {
        origin: if allowed {
            dir
        } else {
            prior.map_or(dir, |p| p.origin)
        },
        allowed,
    }
}

/// Whether the VNIC's rules allow the packet (counting the rule that decided).
fn rules_allow(vnic: &Vnic, direction: Direction, key: &FlowKey, remote_vni: Option<u32>) -> bool {
    let d = vnic.firewall.evaluate(FwContext {
        direction,
        key,
        remote_vni,
    });
    if let Some(i) = d.rule {
        vnic.hits.firewall_hit(i);
    }
    d.action == FwAction::Allow
}
