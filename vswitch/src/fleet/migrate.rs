//! A fleet-mode switch's part in a live migration (README, *Live
//! migration*): as the source it exports the migrating instance's flows
//! and writes them to etcd; as the target it imports them once they are
//! all there and writes its report, which the controller waits for before
//! it moves the traffic. Each migration's work is done once per process
//! (a restarted switch does it again, which the target's import takes:
//! carrying a flow twice installs it once).

use super::FleetLink;
use crate::control::carry;
use crate::switch::Switch;
use std::collections::{BTreeMap, HashSet};
use vswitch_fabric::keys;
use vswitch_fabric::migration::{FlowsIndex, ImportDone, MigrationWork, CHUNK_FLOWS};
use vswitch_fleet::Store;

/// What the switch has done for migrations, and counted.
#[derive(Debug, Default)]
pub struct MigrationAgent {
    done: HashSet<String>,
}

impl MigrationAgent {
    /// Does what `work` asks that was not done yet.
    pub fn run(&mut self, sw: &Switch, link: &FleetLink, work: MigrationWork) {
        for (id, instance, nics) in work.export {
            if self.done.contains(&id) {
                continue;
            }
            match export(sw, link, &instance, &nics) {
                Ok(n) => {
                    tracing::info!(instance, flows = n, "migration: flows exported");
                    link.with_status(|s| s.migration_flows_exported += n);
                    self.done.insert(id);
                }
                Err(e) => tracing::warn!(instance, "migration: export failed: {e}"),
            }
        }
        for w in work.import {
            if self.done.contains(&w.id) {
                continue;
            }
            let instance = w.instance;
            match import(sw, link, &instance, w.exports) {
                Ok(n) => {
                    // From the controller's start to the import done: the
                    // flip follows at once.
                    let secs = (crate::manager::unix_now() - w.started_unix).max(0.0);
                    tracing::info!(instance, flows = n, secs, "migration: flows imported");
                    link.with_status(|s| {
                        s.migrations_in += 1;
                        s.migration_flows_imported += n;
                        s.last_migration_secs = Some(secs);
                    });
                    self.done.insert(w.id);
                }
                Err(e) => tracing::warn!(instance, "migration: import failed: {e}"),
            }
        }
    }
}

fn etcd(link: &FleetLink) -> Result<Store, String> {
    Store::connect(&link.cfg.etcd).map_err(|e| e.to_string())
}

/// Exports each NIC's flows and writes them (chunks, then the index).
fn export(sw: &Switch, link: &FleetLink, instance: &str, nics: &[u32]) -> Result<u64, String> {
    let mut store = etcd(link)?;
    let mut total = 0;
    for nic in nics {
        let x = carry::export(sw, *nic)?;
        total += x.flows.len() as u64;
        let chunks: Vec<_> = if x.flows.is_empty() {
            vec![Vec::new()]
        } else {
            x.flows.chunks(CHUNK_FLOWS).map(<[_]>::to_vec).collect()
        };
        for (k, flows) in chunks.iter().enumerate() {
            let mut c = x.clone();
            c.flows = flows.clone();
            let key = keys::migration_flows_chunk(instance, *nic, k as u32);
            store.put(&key, &c).map_err(|e| e.to_string())?;
        }
        let index = FlowsIndex {
            chunks: chunks.len() as u32,
        };
        let key = format!("{}{nic}", keys::migration_flows(instance));
        store.put(&key, &index).map_err(|e| e.to_string())?;
    }
    Ok(total)
}

/// Imports every NIC's flows and writes the report.
fn import(
    sw: &Switch,
    link: &FleetLink,
    instance: &str,
    exports: Vec<vswitch_api::migration::FlowExport>,
) -> Result<u64, String> {
    let mut nics = BTreeMap::new();
    let mut total = 0;
    for x in exports {
        let nic = x.nic;
        let r = carry::import(sw, x)?;
        total += r.imported;
        nics.insert(nic, r);
    }
    let done = ImportDone {
        sled: link.cfg.sled.clone(),
        nics,
    };
    let mut store = etcd(link)?;
    store
        .put(&keys::migration_import(instance), &done)
        .map_err(|e| e.to_string())?;
    Ok(total)
}
