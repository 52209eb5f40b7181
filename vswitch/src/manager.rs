//! The management thread's command handling: it owns every change to the
//! switch's state and publishes new table snapshots. A refused command
//! publishes nothing, so the running state is untouched. The commands
//! themselves are carried out by area (`control/{switch,vpc,igw,boundary,flows}.rs`).

use crate::control::area::Handled;
use crate::control::flows::clear_flows;
use crate::control::{boundary, flows, igw, instances, ports, switch, vpc};
use crate::switch::Switch;
use engine::tables::Snapshot;
use std::sync::Arc;
use vswitch_api::{Command, PublicationInfo, Reply, Response};

/// Carries out control commands against the running switch.
pub struct Manager {
    sw: Arc<Switch>,
    shutdown_requested: bool,
}

impl Manager {
    /// A manager of `sw`.
    pub fn new(sw: Arc<Switch>) -> Self {
        Manager {
            sw,
            shutdown_requested: false,
        }
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
        let mut handled = switch::handle(&sw, command, &mut self.shutdown_requested);
        for area in [
            vpc::handle,
            instances::handle,
            ports::handle,
            igw::handle,
            boundary::handle,
            flows::handle,
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
