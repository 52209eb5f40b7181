//! The management thread's command handling: it owns every change to the
//! switch's state and publishes new table snapshots. A refused command
//! publishes nothing, so the running state is untouched.

use crate::engine::PortIdx;
use crate::report;
use crate::switch::Switch;
use crate::tables::TableStore;
use std::sync::Arc;
use vswitch_api::{Command, Reply, Response};

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

    /// Carries out one command.
    pub fn handle(&mut self, command: Command) -> Response {
        let sw = &self.sw;
        let names = sw.port_names();
        let result = match command {
            Command::Status => Ok(Reply::Status(report::status(sw))),
            Command::Ports => Ok(Reply::Ports {
                ports: report::ports(sw),
            }),
            Command::Stats => Ok(Reply::Stats(report::stats(sw))),
            Command::PatchList => Ok(report::patches(sw)),
            Command::PatchSet { from, to } => {
                patch_set(&names, &sw.tables, &from, &to).map(|()| report::patches(sw))
            }
            Command::PatchClear { from } => {
                patch_clear(&names, &sw.tables, from.as_deref()).map(|()| report::patches(sw))
            }
            Command::Shutdown => {
                self.shutdown_requested = true;
                Ok(Reply::ShuttingDown)
            }
        };
        match result {
            Ok(reply) => Response::ok(reply),
            Err(msg) => Response::err(msg),
        }
    }
}

fn port_index(names: &[String], name: &str, cmd: &str, field: &str) -> Result<PortIdx, String> {
    names
        .iter()
        .position(|n| n == name)
        .map(|i| i as PortIdx)
        .ok_or_else(|| {
            format!(
                "{cmd}: unknown port {name:?} in `{field}` (ports: {})",
                names.join(", ")
            )
        })
}

/// Publishes a table where `from` is patched to `to`.
pub fn patch_set(
    names: &[String],
    tables: &TableStore,
    from: &str,
    to: &str,
) -> Result<(), String> {
    let f = port_index(names, from, "patch-set", "from")?;
    let t = port_index(names, to, "patch-set", "to")?;
    tables
        .update(|s| s.patch.set(f, t).map_err(|e| format!("patch-set: {e}")))
        .map(|_| ())
}

/// Publishes a table without the entry of `from` (or with no entry at all).
/// Clearing a port that has no entry changes nothing and publishes nothing.
pub fn patch_clear(
    names: &[String],
    tables: &TableStore,
    from: Option<&str>,
) -> Result<(), String> {
    let current = tables.current();
    match from {
        Some(name) => {
            let f = port_index(names, name, "patch-clear", "from")?;
            if current.patch.entries().any(|(p, _)| p == f) {
                tables.update(|s| {
                    s.patch.clear(f);
                    Ok::<(), String>(())
                })?;
            }
        }
        None => {
            if current.patch.entries().next().is_some() {
                tables.update(|s| {
                    s.patch.clear_all();
                    Ok::<(), String>(())
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::Snapshot;

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn patch_set_publishes_and_refuses_unknown_ports_whole() {
        let t = TableStore::new(Snapshot::empty(2));
        patch_set(&names(), &t, "a", "b").unwrap();
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(0, 1)]
        );
        let e = patch_set(&names(), &t, "a", "c").unwrap_err();
        assert_eq!(e, "patch-set: unknown port \"c\" in `to` (ports: a, b)");
        let e = patch_set(&names(), &t, "x", "a").unwrap_err();
        assert!(e.contains("`from`"), "{e}");
        assert_eq!(t.swaps(), 1, "refused requests publish nothing");
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(0, 1)]
        );
    }

    #[test]
    fn patch_clear_one_or_all() {
        let t = TableStore::new(Snapshot::empty(2));
        patch_set(&names(), &t, "a", "b").unwrap();
        patch_set(&names(), &t, "b", "a").unwrap();
        patch_clear(&names(), &t, Some("a")).unwrap();
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(1, 0)]
        );
        let swaps = t.swaps();
        patch_clear(&names(), &t, Some("a")).unwrap();
        assert_eq!(
            t.swaps(),
            swaps,
            "clearing an unpatched port publishes nothing"
        );
        assert!(patch_clear(&names(), &t, Some("q")).is_err());
        patch_clear(&names(), &t, None).unwrap();
        assert_eq!(t.current().patch.entries().count(), 0);
    }
}
