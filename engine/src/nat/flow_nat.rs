//! A flow's NAT as the fast path applies it: the binding, and the source
//! rewrite compiled from it once, when the flow is set up.

use super::rewrite::{self, End, SrcRewrite};
use super::{has_port, NatBinding};
use crate::FlowKey;

/// A flow's NAT: its binding, and the source rewrite compiled from it for
/// the outbound fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowNat {
    /// The binding.
    pub binding: NatBinding,
    /// The compiled rewrite of the guest's source (`None`: the general one).
    pub rewrite: Option<SrcRewrite>,
    /// Whether the flow has ports (or an echo id) that the binding translates.
    pub ports: bool,
}

impl FlowNat {
    /// The NAT of the flow `guest` (its key in the guest's orientation) bound by `binding`.
    pub fn new(binding: NatBinding, guest: &FlowKey) -> Box<Self> {
        let ports = has_port(guest);
        let port = ports.then_some(binding.ext_port);
        Box::new(FlowNat {
            binding,
            rewrite: SrcRewrite::compile(guest, binding.source.ip(), port),
            ports,
        })
    }

    /// Rewrites the source of an outbound packet of the flow.
    #[inline]
    pub fn apply(&self, f: &mut [u8]) -> bool {
        match &self.rewrite {
            Some(r) => r.apply(f),
            None => {
                let port = self.ports.then_some(self.binding.ext_port);
                rewrite::rewrite(f, End::Src, self.binding.source.ip(), port)
            }
        }
    }
}
