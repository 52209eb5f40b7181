//! A live migration as the fleet records it (`migrations/INSTANCE`), so
//! that a controller restarted half-way finishes it or rolls it back, and
//! what each switch reads from it (README, *Live migration*).
//!
//! Phases, each one etcd transaction:
//!
//! 1. `prepared`: the target sled has an endpoint address for the instance
//!    and the name `<instance>-migrating`; the target switch runs the
//!    instance's NICs (on the guest ports the record names) beside the
//!    source, which still gets the traffic.
//! 2. `exporting`: the source switch writes the NICs' flows under
//!    `migration-flows/INSTANCE/`; the target imports them and writes its
//!    report at `migration-imports/INSTANCE`.
//! 3. `flipped`: instance, NICs, every V2P entry and boundary map entry of
//!    the instance and its name point at the new endpoint (one
//!    transaction). For a grace period the source switch forwards Geneve
//!    still sent to the old endpoint to the new one.
//! 4. done: the old endpoint is released (recycled), the record and the
//!    flow keys removed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv6Addr;

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationPhase {
    /// The target runs the NICs; the traffic still goes to the source.
    Prepared,
    /// The source exports the flows, the target imports them.
    Exporting,
    /// The traffic goes to the target; the source forwards stragglers.
    Flipped,
}

impl MigrationPhase {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationPhase::Prepared => "prepared",
            MigrationPhase::Exporting => "exporting",
            MigrationPhase::Flipped => "flipped",
        }
    }
}

/// A migration's record (`migrations/INSTANCE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetMigration {
    /// The instance.
    pub instance: String,
    /// The sled it leaves.
    pub from: String,
    /// The sled it goes to.
    pub to: String,
    /// Its endpoint on the source sled.
    pub old_endpoint: Ipv6Addr,
    /// Its endpoint on the target sled.
    pub new_endpoint: Ipv6Addr,
    /// NIC id -> the guest port it is attached to on the target switch.
    pub ports: BTreeMap<u32, String>,
    /// Where it stands.
    pub phase: MigrationPhase,
    /// When it started (seconds since the epoch).
    pub started_unix: f64,
    /// When the traffic moved, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipped_unix: Option<f64>,
}

/// The flows of one NIC as the source switch writes them for the target:
/// the switch's own export document, in chunks of at most [`CHUNK_FLOWS`]
/// flows (`migration-flows/INSTANCE/NIC/K`), since etcd takes values of
/// about 1.5 MB at most; the index (`migration-flows/INSTANCE/NIC`) is
/// written after them, so that a reader that has it has every chunk.
pub type CarriedNicFlows = vswitch_api::migration::FlowExport;

/// Flows per chunk: a few hundred KB of JSON.
pub const CHUNK_FLOWS: usize = 1000;

/// The most chunks one NIC's export can take.
pub const MAX_CHUNKS: usize = vswitch_api::migration::FLOW_EXPORT_MAX / CHUNK_FLOWS + 1;

/// The index of a NIC's exported flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsIndex {
    /// Chunks written.
    pub chunks: u32,
}

/// The target switch's report (`migration-imports/INSTANCE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportDone {
    /// The sled that imported.
    pub sled: String,
    /// NIC id -> what its import did.
    pub nics: BTreeMap<u32, vswitch_api::migration::FlowImportReport>,
}

impl FleetMigration {
    /// What names this migration among every one of the same instance.
    pub fn identity(&self) -> String {
        format!("{}@{}", self.instance, self.started_unix)
    }
}

/// The flows a target switch imports for one migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationImport {
    /// The migration ([`FleetMigration::identity`]).
    pub id: String,
    /// The instance.
    pub instance: String,
    /// When the migration started (for its duration).
    pub started_unix: f64,
    /// The exports, one per NIC.
    pub exports: Vec<CarriedNicFlows>,
}

/// What a sled's switch has to do for the migrations under way; each entry
/// names its migration ([`FleetMigration::identity`]), so that a switch
/// does each once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigrationWork {
    /// Instances whose NICs' flows this switch (the source) exports: the
    /// migration, the instance and its NIC ids.
    pub export: Vec<(String, String, Vec<u32>)>,
    /// Instances whose flows this switch (the target) imports.
    pub import: Vec<MigrationImport>,
    /// Old endpoint -> new: Geneve for the old one that still reaches this
    /// switch (the source, after the flip) goes on to the new one.
    pub forward: Vec<(Ipv6Addr, Ipv6Addr)>,
}
