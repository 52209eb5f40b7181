//! The one path of every change: a new [`SwitchState`] is checked whole,
//! compiled against the snapshot in force, written by the journal (the
//! state file) and published as one generation; or refused with every error
//! found, and nothing changes.

use crate::control::check::check;
use crate::control::compile::{compile, Compiled};
use crate::control::vpc::PortDirectory;
use crate::tables::{Snapshot, TableStore};
use crate::PortIdx;
use std::sync::Arc;
use vswitch_api::state::{StateDiff, SwitchState};

/// What a change did (or, planned, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The generation in force after it (unchanged when nothing changed or
    /// for a plan).
    pub generation: u64,
    /// Whether the state differs from the one in force.
    pub changed: bool,
    /// Guest ports whose VNIC's epoch moves.
    pub moved: Vec<PortIdx>,
    /// Guest ports whose VNIC is created, replaced or removed.
    pub reborn: Vec<PortIdx>,
}

/// Checks and compiles `state` against the snapshot in force, publishing
/// nothing. `Ok(None)`: it is the state in force.
fn prepare(
    dir: &PortDirectory,
    cur: &Snapshot,
    mut state: SwitchState,
) -> Result<Option<Compiled>, Vec<String>> {
    state.generation = cur.state.generation;
    if state == *cur.state {
        return Ok(None);
    }
    let checked = check(dir, cur, &state)?;
    Ok(Some(compile(dir, cur, Arc::new(state), checked)))
}

/// Publishes `state` as the next generation, or refuses it with every
/// error found. The state in force again publishes nothing.
///
/// The new snapshot is published first (the workers take it at once),
/// then the journal writes the state durably before this returns, so an
/// answered change is on disk. If the journal cannot write it, the state in
/// force before (which the state file still holds) is published again as
/// the next generation, and the change is refused.
pub fn commit(
    dir: &PortDirectory,
    tables: &TableStore,
    state: SwitchState,
) -> Result<Change, Vec<String>> {
    let cur = tables.current();
    let Some(c) = prepare(dir, &cur, state)? else {
        return Ok(Change {
            generation: cur.generation,
            changed: false,
            moved: Vec::new(),
            reborn: Vec::new(),
        });
    };
    let (moved, reborn) = (c.moved, c.reborn);
    let next = tables.publish(c.snapshot);
    if let Err(e) = tables.journal(&next.state) {
        let undone = match prepare(dir, &next, SwitchState::clone(&cur.state)) {
            Ok(Some(back)) => {
                tables.publish(back.snapshot);
                "the change is undone"
            }
            Ok(None) => "the change is undone",
            Err(_) => "the change could not be undone",
        };
        return Err(vec![format!("{e} ({undone})")]);
    }
    Ok(Change {
        generation: next.generation,
        changed: true,
        moved,
        reborn,
    })
}

/// What `commit` would do with `state`, and the objects it would add,
/// change and remove; publishes nothing.
pub fn plan(
    dir: &PortDirectory,
    tables: &TableStore,
    state: SwitchState,
) -> Result<(Change, StateDiff), Vec<String>> {
    let cur = tables.current();
    let Some(c) = prepare(dir, &cur, state)? else {
        let change = Change {
            generation: cur.generation,
            changed: false,
            moved: Vec::new(),
            reborn: Vec::new(),
        };
        return Ok((change, StateDiff::default()));
    };
    let diff = StateDiff::between(&cur.state, &c.snapshot.state);
    let change = Change {
        generation: cur.generation,
        changed: true,
        moved: c.moved,
        reborn: c.reborn,
    };
    Ok((change, diff))
}

/// Changes the state in force with `f` and commits the result; errors are
/// prefixed with `cmd`, the command's name.
pub fn change(
    dir: &PortDirectory,
    tables: &TableStore,
    cmd: &str,
    f: impl FnOnce(&mut SwitchState) -> Result<(), String>,
) -> Result<Change, String> {
    let mut state = SwitchState::clone(&tables.current().state);
    f(&mut state).map_err(|e| format!("{cmd}: {e}"))?;
    commit(dir, tables, state).map_err(|errs| format!("{cmd}: {}", errs.join("; ")))
}

/// Loads a state at start-up, into the first snapshot (generation and all):
/// the state file's document, checked whole.
pub fn load(
    dir: &PortDirectory,
    first: &Snapshot,
    state: SwitchState,
) -> Result<Snapshot, Vec<String>> {
    let generation = state.generation.unwrap_or(first.generation);
    let mut state = state;
    state.generation = first.state.generation;
    let checked = check(dir, first, &state)?;
    state.generation = Some(generation);
    let mut c = compile(dir, first, Arc::new(state), checked);
    c.snapshot.generation = generation;
    c.snapshot.resolve_ports();
    Ok(c.snapshot)
}
