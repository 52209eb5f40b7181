//! The management thread's command handling: it owns every change to the
//! switch's state and publishes new table snapshots. A refused command
//! publishes nothing, so the running state is untouched. The commands
//! themselves are carried out by area (`control/{switch,vpc,igw,boundary,flows}.rs`).

use crate::control::area::Handled;
use crate::control::flows::clear_flows;
use crate::control::{boundary, carry, flows, igw, instances, ports, switch, vpc};
use crate::fleet::FleetLink;
use crate::switch::Switch;
use engine::tables::Snapshot;
use std::sync::Arc;
use vswitch_api::state::FleetStamp;
use vswitch_api::{Command, PublicationInfo, Reply, Response};
use vswitch_fabric::view::{merge, same_fleet_parts};

/// Carries out control commands against the running switch.
pub struct Manager {
    sw: Arc<Switch>,
    shutdown_requested: bool,
    fleet: Option<Arc<FleetLink>>,
    migrations: crate::fleet::MigrationAgent,
}

impl Manager {
    /// A manager of `sw`.
    pub fn new(sw: Arc<Switch>) -> Self {
        Manager {
            sw,
            shutdown_requested: false,
            fleet: None,
            migrations: Default::default(),
        }
    }

    /// A manager of a fleet-mode switch: the fleet's objects come from
    /// `link`, and the control socket may not change them.
    pub fn with_fleet(sw: Arc<Switch>, link: Arc<FleetLink>) -> Self {
        Manager {
            fleet: Some(link),
            ..Manager::new(sw)
        }
    }

    /// Publishes the latest view of the fleet, if one is waiting and it
    /// changes the fleet-owned parts, as one generation through `apply`'s
    /// path. A view that is refused changes nothing: the switch keeps what
    /// it runs and says why in `status`.
    pub fn fleet_update(&mut self) {
        let Some(link) = self.fleet.clone() else {
            return;
        };
        let Some(update) = link.take() else { return };
        let r = update.revision;
        let mut parts = match update.parts {
            Ok(p) => p,
            Err(errors) => {
                tracing::warn!(revision = r, "fleet: state refused: {}", errors.join("; "));
                link.with_status(|s| {
                    s.refused += 1;
                    s.last_error = Some(format!(
                        "revision {r}: {} fault(s): {}",
                        errors.len(),
                        errors.join("; ")
                    ));
                });
                return;
            }
        };
        // The switches' part of migrations is done here; forwarding is state.
        let work = vswitch_fabric::migration::MigrationWork {
            export: std::mem::take(&mut parts.migrations.export),
            import: std::mem::take(&mut parts.migrations.import),
            forward: Vec::new(),
        };
        self.publish_fleet(&link, r, parts, update.read_at);
        // After the publication: a target imports into the NICs it runs now.
        self.migrations.run(&self.sw, &link, work);
    }

    /// Publishes the fleet-owned parts read at revision `r` as one
    /// generation (none when nothing of this switch's changed).
    fn publish_fleet(
        &mut self,
        link: &FleetLink,
        r: i64,
        parts: vswitch_fabric::view::FleetParts,
        read_at: std::time::Instant,
    ) {
        let sw = Arc::clone(&self.sw);
        let before = sw.tables.current();
        let stamp = FleetStamp {
            sled: link.cfg.sled.clone(),
            revision: r,
        };
        let mut state = merge(&before.state, parts, &link.local_underlay(), stamp.clone());
        // A revision that changes nothing of this switch's is no generation.
        state.fleet = before.state.fleet.clone();
        if before.state.fleet.is_some() && same_fleet_parts(&state, &before.state) {
            link.with_status(|s| {
                s.revision_applied = r;
                s.applied_at_unix = unix_now();
            });
            return;
        }
        state.fleet = Some(stamp);
        let result = crate::control::switch::apply(&sw, state, false, None);
        match &result {
            Ok(_) => {
                let secs = read_at.elapsed().as_secs_f64();
                if let Ok(mut l) = link.last_publish_secs.lock() {
                    *l = secs;
                }
                link.with_status(|s| {
                    s.updates += 1;
                    s.revision_applied = r;
                    s.applied_at_unix = unix_now();
                    if link.connected() {
                        s.last_error = None;
                    }
                });
                tracing::info!(
                    revision = r,
                    generation = sw.tables.current().generation,
                    "fleet: published"
                );
            }
            Err(refusal) => {
                let why = if refusal.errors.is_empty() {
                    refusal.error.clone().unwrap_or_default()
                } else {
                    refusal.errors.join("; ")
                };
                tracing::warn!(revision = r, "fleet: state refused: {why}");
                link.with_status(|s| {
                    s.refused += 1;
                    s.last_error = Some(format!("revision {r}: {why}"));
                });
            }
        }
        let _ = self.after(before, result.map_err(|b| *b));
    }

    /// Whether a `shutdown` command was received.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested
    }

    /// Carries out one command whose request line was read at `received`,
    /// and keeps the times of the change it published, if any.
    pub fn handle_at(&mut self, command: Command, received: std::time::Instant) -> Response {
        let sw = Arc::clone(&self.sw);
        let tables = &sw.tables;
        let before = tables.current().generation;
        let resp = self.handle(command);
        let now = tables.current().generation;
        if now != before {
            let info = PublicationInfo {
                generation: now,
                received_ns: tables.ns_at(received),
                published_ns: tables.published_ns(),
                answered_ns: tables.now_ns(),
            };
            if let Ok(mut p) = sw.publication.lock() {
                *p = Some(info);
            }
        }
        resp
    }

    /// Carries out one command: the area it belongs to carries it out.
    pub fn handle(&mut self, command: Command) -> Response {
        let sw = Arc::clone(&self.sw);
        let before = sw.tables.current();
        if let Some(link) = &self.fleet {
            if let Some(why) = crate::fleet::refusal(link, &command, &before.state) {
                return Response::err(why);
            }
        }
        let mut handled = switch::handle(&sw, command, &mut self.shutdown_requested);
        for area in [
            vpc::handle,
            instances::handle,
            ports::handle,
            igw::handle,
            boundary::handle,
            flows::handle,
            carry::handle,
        ] {
            if let Handled::Not(command) = handled {
                handled = area(&sw, command);
            }
        }
        let result = match handled {
            Handled::Done(r) => r.map_err(Response::err),
            Handled::Refused(refusal) => Err(*refusal),
            Handled::Not(command) => Err(Response::err(format!(
                "{}: no area of the switch carries it out",
                crate::control::command_name(&command)
            ))),
        };
        self.after(before, result)
    }

    /// Answers a command, after removing the flows of every port whose VNIC
    /// the command created, replaced or removed (on every worker, before the
    /// answer), so that nothing of an earlier tenant of the port is left.
    fn after(&self, before: Arc<Snapshot>, result: Result<Reply, Response>) -> Response {
        let now = self.sw.tables.current();
        if now.generation != before.generation {
            if let Err(e) = forget_reborn_flows(&self.sw, &before, &now) {
                return Response::err(e);
            }
            // Run-time ports the document no longer lists go now that
            // nothing in force uses them.
            if let Err(e) = ports::reconcile(&self.sw) {
                return Response::err(e);
            }
        }
        match result {
            Ok(reply) => Response::ok(reply),
            Err(refusal) => refusal,
        }
    }
}

/// The wall-clock time, in seconds since the Unix epoch.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Removes, on every worker, the flows and NAT state of each port whose
/// VNIC is new, replaced or gone between `before` and `now` (below the new
/// VNIC's birth epoch; all of them when it is gone).
fn forget_reborn_flows(sw: &Switch, before: &Snapshot, now: &Snapshot) -> Result<(), String> {
    for v in before.vpc.vnics.iter().flatten() {
        let birth = now.vpc.vnic(v.port).map(|n| n.birth);
        if birth != Some(v.birth) {
            clear_flows(sw, "clear", Some(v.port), birth.unwrap_or(u64::MAX)).map_err(|e| {
                format!(
                    "{e} (generation {} is published; the port's old flows can no longer match it)",
                    now.generation
                )
            })?;
        }
    }
    Ok(())
}
