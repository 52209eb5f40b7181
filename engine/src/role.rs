//! What the switch is (fixed at start-up) and what each of its ports connects to.

/// What this switch is in the VPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchRole {
    /// Per-host switch: guest ports and underlay uplinks.
    Sled,
    /// Rack-edge switch: underlay uplink and an external port.
    Boundary,
}

impl SwitchRole {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchRole::Sled => "sled",
            SwitchRole::Boundary => "boundary",
        }
    }
}

/// What a port connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    /// The underlay (Geneve over IPv6).
    Uplink,
    /// One guest VNIC.
    Guest,
    /// The world outside the VPC (boundary role).
    External,
    /// A link to another pod's boundary, carrying a bridge network
    /// (boundary role).
    Bridge,
}

impl PortRole {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PortRole::Uplink => "uplink",
            PortRole::Guest => "guest",
            PortRole::External => "external",
            PortRole::Bridge => "bridge",
        }
    }

    /// The MTU of a port of this role unless its `mtu` says otherwise.
    pub fn default_mtu(self) -> u16 {
        match self {
            PortRole::Uplink => 9000,
            PortRole::Guest | PortRole::External | PortRole::Bridge => 1500,
        }
    }

    /// The role a configuration spelling names.
    pub fn parse(s: &str) -> Option<PortRole> {
        match s {
            "uplink" => Some(PortRole::Uplink),
            "guest" => Some(PortRole::Guest),
            "external" => Some(PortRole::External),
            "bridge" => Some(PortRole::Bridge),
            _ => None,
        }
    }
}
