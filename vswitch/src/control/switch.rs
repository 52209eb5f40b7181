//! The switch's own commands: status, ports, counters, the patch table,
//! the whole state (`export`, `apply`) and shutdown.

use super::area::Handled;
use crate::report;
use crate::switch::Switch;
use engine::control::commit;
use engine::control::patch::{patch_clear, patch_set};
use engine::PortIdx;
use vswitch_api::state::{StateDiff, SwitchState};
use vswitch_api::{Command, Reply, Response};

/// Carries out a switch command; any other is handed back.
pub(crate) fn handle(sw: &Switch, command: Command, shutdown: &mut bool) -> Handled {
    Handled::Done(match command {
        Command::Status => Ok(Reply::Status(report::status(sw))),
        Command::Ports => Ok(Reply::Ports {
            ports: report::ports(sw),
        }),
        Command::Stats => Ok(Reply::Stats(report::stats(sw))),
        Command::PatchList => Ok(report::patches(sw)),
        Command::PatchSet { from, to } => {
            patch_set(&sw.directory(), &sw.tables, &from, &to).map(|()| report::patches(sw))
        }
        Command::PatchClear { from } => {
            patch_clear(&sw.directory(), &sw.tables, from.as_deref()).map(|()| report::patches(sw))
        }
        Command::Shutdown => {
            *shutdown = true;
            Ok(Reply::ShuttingDown)
        }
        Command::Export => {
            let cur = sw.tables.current();
            Ok(Reply::State {
                generation: cur.generation,
                state: Box::new(SwitchState::clone(&cur.state)),
            })
        }
        Command::Apply {
            state,
            dry_run,
            if_generation,
        } => match apply(sw, *state, dry_run, if_generation) {
            Ok(reply) => Ok(reply),
            Err(refusal) => return Handled::Refused(refusal),
        },

        other => return Handled::Not(other),
    })
}

/// `apply`: the whole state, checked whole and published as one generation
/// (or, with `dry_run`, only planned); refused with every error found.
pub(crate) fn apply(
    sw: &Switch,
    state: SwitchState,
    dry_run: bool,
    if_generation: Option<u64>,
) -> Result<Reply, Box<Response>> {
    let cur = sw.tables.current();
    if let Some(want) = if_generation {
        if want != cur.generation {
            return Err(Box::new(Response::err(format!(
                "apply: the state in force is generation {}, not {want} (export it again and redo the change)",
                cur.generation
            ))));
        }
    }
    let names = |ports: Vec<PortIdx>| ports.into_iter().map(|p| sw.port_name(p)).collect();
    let refused = |errors: Vec<String>| {
        Box::new(Response::errs(
            format!(
                "apply: the state is refused ({} error{}; nothing changed): {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.first().cloned().unwrap_or_default()
            ),
            errors,
        ))
    };
    if dry_run {
        let (change, diff) = commit::plan(&sw.directory(), &sw.tables, state).map_err(refused)?;
        return Ok(Reply::Plan {
            applied: false,
            generation: change.generation,
            diff,
            updated_ports: names(change.moved),
        });
    }
    // Checked and compiled once: the diff is read off the states before and after.
    let done = commit::commit(&sw.directory(), &sw.tables, state).map_err(refused)?;
    let diff = if done.changed {
        StateDiff::between(&cur.state, &sw.tables.current().state)
    } else {
        StateDiff::default()
    };
    Ok(Reply::Plan {
        applied: done.changed,
        generation: done.generation,
        diff,
        updated_ports: names(done.moved),
    })
}
