//! The patch commands: a patch sends everything a port receives to another
//! port, bypassing every layer (a test and bring-up tool, never a tenant's
//! port).

use crate::control::commit;
use crate::control::vpc::PortDirectory;
use crate::tables::TableStore;
use crate::PortIdx;
use vswitch_api::PatchEntry;

/// The names of the ports in use, for messages (a removed run-time port
/// leaves an empty name in its slot).
pub fn listed(names: &[String]) -> String {
    let used: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .collect();
    used.join(", ")
}

/// The index of the port named `name`, or an error naming the command, the
/// field and the ports there are.
pub fn port_index(names: &[String], name: &str, cmd: &str, field: &str) -> Result<PortIdx, String> {
    names
        .iter()
        .position(|n| !n.is_empty() && n == name)
        .map(|i| i as PortIdx)
        .ok_or_else(|| {
            format!(
                "{cmd}: unknown port {name:?} in `{field}` (ports: {})",
                listed(names)
            )
        })
}

/// Publishes a table where `from` is patched to `to`.
pub fn patch_set(
    dir: &PortDirectory,
    tables: &TableStore,
    from: &str,
    to: &str,
) -> Result<(), String> {
    let cmd = "patch-set";
    port_index(&dir.names, from, cmd, "from")?;
    port_index(&dir.names, to, cmd, "to")?;
    // A patch bypasses every layer: never on a tenant's port.
    let cur = tables.current();
    for name in [from, to] {
        if cur.state.vnic(name).is_some() {
            return Err(format!(
                "{cmd}: port {name:?} has a VNIC (vnic-delete it first): a port carries a patch or a VNIC, not both"
            ));
        }
    }
    commit::change(dir, tables, cmd, |s| {
        let entry = PatchEntry {
            from: from.to_string(),
            to: to.to_string(),
        };
        match s.patches.iter_mut().find(|p| p.from == from) {
            Some(p) => *p = entry,
            None => {
                s.patches.push(entry);
                s.patches.sort();
            }
        }
        Ok(())
    })
    .map(|_| ())
}

/// Publishes a table without the entry of `from` (or with no entry at all).
/// Clearing a port that has no entry changes nothing and publishes nothing.
pub fn patch_clear(
    dir: &PortDirectory,
    tables: &TableStore,
    from: Option<&str>,
) -> Result<(), String> {
    let cmd = "patch-clear";
    if let Some(name) = from {
        port_index(&dir.names, name, cmd, "from")?;
    }
    commit::change(dir, tables, cmd, |s| {
        s.patches.retain(|p| from.is_some_and(|f| p.from != f));
        Ok(())
    })
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{port, Switch};
    use crate::{PortRole, SwitchRole};

    fn setup() -> (PortDirectory, TableStore) {
        Switch::tables(
            SwitchRole::Sled,
            &[
                port("a", PortRole::Guest, [2, 0, 0, 0, 0, 1]),
                port("b", PortRole::Guest, [2, 0, 0, 0, 0, 2]),
            ],
        )
    }

    #[test]
    fn patch_set_publishes_and_refuses_unknown_ports_whole() {
        let (dir, t) = setup();
        patch_set(&dir, &t, "a", "b").unwrap();
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(0, 1)]
        );
        let e = patch_set(&dir, &t, "a", "c").unwrap_err();
        assert_eq!(e, "patch-set: unknown port \"c\" in `to` (ports: a, b)");
        let e = patch_set(&dir, &t, "x", "a").unwrap_err();
        assert!(e.contains("`from`"), "{e}");
        assert_eq!(t.swaps(), 1, "refused requests publish nothing");
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(0, 1)]
        );
    }

    #[test]
    fn patch_clear_one_or_all() {
        let (dir, t) = setup();
        patch_set(&dir, &t, "a", "b").unwrap();
        patch_set(&dir, &t, "b", "a").unwrap();
        patch_clear(&dir, &t, Some("a")).unwrap();
        assert_eq!(
            t.current().patch.entries().collect::<Vec<_>>(),
            vec![(1, 0)]
        );
        let swaps = t.swaps();
        patch_clear(&dir, &t, Some("a")).unwrap();
        assert_eq!(
            t.swaps(),
            swaps,
            "clearing an unpatched port publishes nothing"
        );
        assert!(patch_clear(&dir, &t, Some("q")).is_err());
        patch_clear(&dir, &t, None).unwrap();
        assert_eq!(t.current().patch.entries().count(), 0);
    }
}
