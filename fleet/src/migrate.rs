//! `migrate`: a live migration as the controller drives it, one etcd
//! transaction per phase (`vswitch_fabric::migration`), the phase recorded
//! so that a controller run again for the same instance goes on from where
//! the last one stopped, or rolls back what it began (`migrate-abort`,
//! possible until the traffic moved).

use crate::alloc::{Endpoint, FleetError, Name, Sled};
use crate::objects::derived;
use crate::store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vswitch_api::state::NicState;
use vswitch_fabric::endpoints::next_endpoint;
use vswitch_fabric::keys;
use vswitch_fabric::migration::{FleetMigration, ImportDone, MigrationPhase};
use vswitch_fabric::records::{FleetBoundary, FleetInstance, FleetV2p};

/// Attempts at a transaction before giving up.
const RETRIES: usize = 64;

fn json<T: serde::Serialize>(v: &T) -> Result<Value, FleetError> {
    serde_json::to_value(v).map_err(|e| FleetError::Etcd(e.to_string()))
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The temporary name of an instance being migrated.
pub fn migrating_name(instance: &str) -> String {
    format!("{instance}-migrating")
}

/// How a `migrate` command went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateReport {
    /// The record as it ended.
    pub migration: FleetMigration,
    /// What the target imported, per NIC.
    pub imported: Option<ImportDone>,
    /// Seconds from the start to the flip.
    pub to_flip_secs: f64,
    /// Seconds in all.
    pub total_secs: f64,
}

/// The options of `migrate`.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// NIC id -> guest port on the target switch (default: the NIC's port).
    pub ports: BTreeMap<u32, String>,
    /// How long the source forwards after the flip before the old endpoint
    /// is released.
    pub grace: Duration,
    /// How long to wait for the switches (export and import).
    pub timeout: Duration,
    /// Stop after this phase (`prepared`, `exporting`, `flipped`): the rest
    /// is left to a later `migrate` of the same instance.
    pub stop_after: Option<MigrationPhase>,
}

/// The instance's NICs, with their revisions.
fn nics_of(store: &mut Store, instance: &str) -> Result<Vec<(String, NicState, i64)>, FleetError> {
    let mut v = Vec::new();
    for (key, raw, rev) in store.list_raw(&keys::nics())? {
        let nic: NicState = serde_json::from_slice(&raw)
            .map_err(|e| FleetError::Corrupt(key.clone(), e.to_string()))?;
        if nic
            .attachment
            .as_ref()
            .is_some_and(|a| a.instance == instance)
        {
            v.push((key, nic, rev));
        }
    }
    Ok(v)
}

/// Phase 1: the record, an endpoint on the target sled and the temporary
/// name, in one transaction.
fn prepare(
    store: &mut Store,
    instance: &str,
    to: &str,
    ports: &BTreeMap<u32, String>,
) -> Result<FleetMigration, FleetError> {
    let sled: Sled = store
        .get(&keys::sled(to))?
        .ok_or_else(|| FleetError::Refused(format!("unknown sled {to:?}")))?;
    for _ in 0..RETRIES {
        let ki = keys::instance(instance);
        let (inst, irev) = store.get_rev::<FleetInstance>(&ki)?;
        let inst =
            inst.ok_or_else(|| FleetError::Refused(format!("there is no instance {instance:?}")))?;
        if inst.sled == to {
            return Err(FleetError::Refused(format!(
                "instance {instance:?} runs on {to:?} already"
            )));
        }
        let nics = nics_of(store, instance)?;
        for id in ports.keys() {
            if !nics.iter().any(|(_, n, _)| n.nic.id == *id) {
                return Err(FleetError::Refused(format!(
                    "--port {id}=...: NIC {id} is not attached to instance {instance:?}"
                )));
            }
        }
        let ports: BTreeMap<u32, String> = nics
            .iter()
            .filter_map(|(_, n, _)| {
                let port = ports
                    .get(&n.nic.id)
                    .cloned()
                    .or_else(|| n.attachment.as_ref()?.port.clone())?;
                Some((n.nic.id, port))
            })
            .collect();
        let used: BTreeSet<Ipv6Addr> = store
            .list::<Endpoint>(&keys::endpoints(to))?
            .into_iter()
            .map(|(_, e)| e.addr)
            .collect();
        let addr = next_endpoint(sled.prefix, &used)?;
        let temp = migrating_name(instance);
        let g = FleetMigration {
            instance: instance.to_string(),
            from: inst.sled.clone(),
            to: to.to_string(),
            old_endpoint: inst.endpoint,
            new_endpoint: addr,
            ports,
            phase: MigrationPhase::Prepared,
            started_unix: now_unix(),
            flipped_unix: None,
        };
        let (km, ke, kn) = (
            keys::migration(instance),
            keys::endpoint(to, addr),
            keys::name(&temp),
        );
        let guard = [
            (ki, irev),
            (km.clone(), 0),
            (ke.clone(), 0),
            (kn.clone(), 0),
        ];
        let ep = Endpoint {
            sled: to.to_string(),
            addr,
            holder: temp.clone(),
        };
        let name = Name { name: temp, addr };
        let puts = [(km, json(&g)?), (ke, json(&ep)?), (kn, json(&name)?)];
        if store.commit(&guard, &puts, &[])? {
            return Ok(g);
        }
        if store
            .get::<FleetMigration>(&keys::migration(instance))?
            .is_some()
        {
            return Err(FleetError::Refused(format!(
                "instance {instance:?} is being migrated already"
            )));
        }
    }
    Err(FleetError::Busy(format!("migrate {instance} (prepare)")))
}

/// Moves the record to `phase` if it is still at revision `rev`.
fn set_phase(
    store: &mut Store,
    g: &mut FleetMigration,
    rev: i64,
    phase: MigrationPhase,
) -> Result<bool, FleetError> {
    let mut next = g.clone();
    next.phase = phase;
    let k = keys::migration(&g.instance);
    if store.commit(&[(k.clone(), rev)], &[(k, json(&next)?)], &[])? {
        *g = next;
        return Ok(true);
    }
    Ok(false)
}

/// The keys of the flows exported for `instance` and of its import report.
fn flow_keys(store: &mut Store, instance: &str) -> Result<Vec<String>, FleetError> {
    let mut v: Vec<String> = store
        .list_raw(&keys::migration_flows(instance))?
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    v.push(keys::migration_import(instance));
    Ok(v)
}

/// Phase 3: instance, NICs (on their target ports), V2P, boundary map and
/// name point at the new endpoint, and the temporary name goes, in one
/// transaction.
fn flip(store: &mut Store, g: &mut FleetMigration) -> Result<(), FleetError> {
    for _ in 0..RETRIES {
        let km = keys::migration(&g.instance);
        let (cur, mrev) = store.get_rev::<FleetMigration>(&km)?;
        if cur.as_ref() != Some(&*g) {
            return Err(FleetError::Busy(format!(
                "migrate {}: the record changed under this controller",
                g.instance
            )));
        }
        let ki = keys::instance(&g.instance);
        let (inst, irev) = store.get_rev::<FleetInstance>(&ki)?;
        let mut inst =
            inst.ok_or_else(|| FleetError::Refused(format!("instance {:?} is gone", g.instance)))?;
        inst.sled = g.to.clone();
        inst.endpoint = g.new_endpoint;
        let mut guard = vec![(km.clone(), mrev), (ki.clone(), irev)];
        let mut puts = vec![(ki, json(&inst)?)];
        for (key, mut nic, rev) in nics_of(store, &g.instance)? {
            guard.push((key.clone(), rev));
            if let (Some(a), Some(p)) = (nic.attachment.as_mut(), g.ports.get(&nic.nic.id)) {
                a.port = Some(p.clone());
            }
            let (v2p, ext) = derived(&nic);
            for (k, _) in v2p {
                puts.push((
                    k,
                    json(&FleetV2p {
                        mac: nic.nic.mac,
                        underlay: g.new_endpoint,
                        nic: Some(nic.nic.id),
                    })?,
                ));
            }
            for (k, ip, ports) in ext {
                puts.push((
                    k,
                    json(&FleetBoundary {
                        ip,
                        sled: g.new_endpoint,
                        ports,
                        nic: Some(nic.nic.id),
                    })?,
                ));
            }
            puts.push((key, json(&nic)?));
        }
        let name = Name {
            name: g.instance.clone(),
            addr: g.new_endpoint,
        };
        puts.push((keys::name(&g.instance), json(&name)?));
        let ep = Endpoint {
            sled: g.to.clone(),
            addr: g.new_endpoint,
            holder: g.instance.clone(),
        };
        puts.push((keys::endpoint(&g.to, g.new_endpoint), json(&ep)?));
        let mut next = g.clone();
        next.phase = MigrationPhase::Flipped;
        next.flipped_unix = Some(now_unix());
        puts.push((km, json(&next)?));
        let mut deletes = flow_keys(store, &g.instance)?;
        deletes.push(keys::name(&migrating_name(&g.instance)));
        if store.commit(&guard, &puts, &deletes)? {
            *g = next;
            return Ok(());
        }
    }
    Err(FleetError::Busy(format!("migrate {} (flip)", g.instance)))
}

/// Phase 4: the old endpoint released and the record removed.
fn finish(store: &mut Store, g: &FleetMigration) -> Result<(), FleetError> {
    let km = keys::migration(&g.instance);
    for _ in 0..RETRIES {
        let (_, mrev) = store.get_rev::<FleetMigration>(&km)?;
        let deletes = [km.clone(), keys::endpoint(&g.from, g.old_endpoint)];
        if store.commit(&[(km.clone(), mrev)], &[], &deletes)? {
            return Ok(());
        }
    }
    Err(FleetError::Busy(format!("migrate {} (finish)", g.instance)))
}

/// `migrate-abort`: rolls back a migration that has not moved the traffic
/// (the record, the target's endpoint, the temporary name, the flows).
pub fn abort(store: &mut Store, instance: &str) -> Result<FleetMigration, FleetError> {
    let km = keys::migration(instance);
    for _ in 0..RETRIES {
        let (g, rev) = store.get_rev::<FleetMigration>(&km)?;
        let g = g.ok_or_else(|| {
            FleetError::Refused(format!("instance {instance:?} is not being migrated"))
        })?;
        if g.phase == MigrationPhase::Flipped {
            return Err(FleetError::Refused(format!(
                "instance {instance:?} runs on {} already: finish the migration (migrate {instance} --to {})",
                g.to, g.to
            )));
        }
        let mut deletes = flow_keys(store, instance)?;
        deletes.extend([
            km.clone(),
            keys::endpoint(&g.to, g.new_endpoint),
            keys::name(&migrating_name(instance)),
        ]);
        if store.commit(&[(km.clone(), rev)], &[], &deletes)? {
            return Ok(g);
        }
    }
    Err(FleetError::Busy(format!("migrate-abort {instance}")))
}

/// The migrations under way.
pub fn list(store: &mut Store) -> Result<Vec<FleetMigration>, FleetError> {
    Ok(store
        .list::<FleetMigration>(&keys::migrations())?
        .into_iter()
        .map(|(_, g)| g)
        .collect())
}

/// Waits for the target's import report.
fn wait_import(
    store: &mut Store,
    g: &FleetMigration,
    timeout: Duration,
) -> Result<ImportDone, FleetError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(r) = store.get::<ImportDone>(&keys::migration_import(&g.instance))? {
            return Ok(r);
        }
        if Instant::now() > deadline {
            return Err(FleetError::Busy(format!(
                "migrate {}: no import report from {} within {:?} (is its switch following the fleet? migrate-abort {} rolls back)",
                g.instance, g.to, timeout, g.instance
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `migrate INSTANCE --to SLED`: every phase from where the record stands
/// (a new migration when there is none).
pub fn migrate(
    store: &mut Store,
    instance: &str,
    to: &str,
    opts: &MigrateOptions,
) -> Result<MigrateReport, FleetError> {
    let t0 = Instant::now();
    let mut g = match store.get::<FleetMigration>(&keys::migration(instance))? {
        Some(g) if g.to != to => {
            return Err(FleetError::Refused(format!(
                "instance {instance:?} is being migrated to {:?}, not {to:?} (migrate-abort {instance} first)",
                g.to
            )))
        }
        Some(g) => g,
        None => prepare(store, instance, to, &opts.ports)?,
    };
    let stop = |p: MigrationPhase| opts.stop_after == Some(p);
    let mut imported = None;
    if g.phase == MigrationPhase::Prepared {
        if stop(MigrationPhase::Prepared) {
            return Ok(report(g, None, t0));
        }
        let (_, rev) = store.get_rev::<FleetMigration>(&keys::migration(instance))?;
        if !set_phase(store, &mut g, rev, MigrationPhase::Exporting)? {
            return Err(FleetError::Busy(format!(
                "migrate {instance}: the record changed under this controller"
            )));
        }
    }
    if g.phase == MigrationPhase::Exporting {
        if stop(MigrationPhase::Exporting) {
            return Ok(report(g, None, t0));
        }
        imported = Some(wait_import(store, &g, opts.timeout)?);
        flip(store, &mut g)?;
    }
    let to_flip = t0.elapsed().as_secs_f64();
    if stop(MigrationPhase::Flipped) {
        return Ok(report(g, imported, t0));
    }
    let since = g.flipped_unix.map_or(0.0, |f| (now_unix() - f).max(0.0));
    if let Some(rest) = opts.grace.checked_sub(Duration::from_secs_f64(since)) {
        std::thread::sleep(rest);
    }
    finish(store, &g)?;
    let mut r = report(g, imported, t0);
    r.to_flip_secs = to_flip;
    Ok(r)
}

fn report(g: FleetMigration, imported: Option<ImportDone>, t0: Instant) -> MigrateReport {
    let secs = t0.elapsed().as_secs_f64();
    MigrateReport {
        migration: g,
        imported,
        to_flip_secs: secs,
        total_secs: secs,
    }
}
