//! The patch commands: a patch sends everything a port receives to another
//! port, bypassing every layer (a test and bring-up tool, never a tenant's
//! port).

use crate::tables::TableStore;
use crate::PortIdx;

/// The index of the port named `name`, or an error naming the command, the
/// field and the ports there are.
pub fn port_index(names: &[String], name: &str, cmd: &str, field: &str) -> Result<PortIdx, String> {
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
        .update(|s| {
            // A patch bypasses every layer: never on a tenant's port.
            for (p, name) in [(f, from), (t, to)] {
                if s.vpc.vnic(p).is_some() {
                    return Err(format!(
                        "patch-set: port {name:?} has a VNIC (vnic-delete it first): a port carries a patch or a VNIC, not both"
                    ));
                }
            }
            s.patch.set(f, t).map_err(|e| format!("patch-set: {e}"))
        })
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
