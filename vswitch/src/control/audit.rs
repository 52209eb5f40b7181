//! Which commands change the switch's state, for the log of who changed it.

use vswitch_api::Command;

/// Whether `cmd` changes state (tables, flows, or the process itself), so its
/// caller is logged. Every variant is listed on purpose: a new command does
/// not compile until someone decides whether it is read-only.
pub fn changes_state(cmd: &Command) -> bool {
    match cmd {
        Command::Status
        | Command::Ports
        | Command::Stats
        | Command::PatchList
        | Command::VnicList
        | Command::InstanceList
        | Command::NicList
        | Command::V2pList
        | Command::Layers { .. }
        | Command::Flows { .. }
        | Command::FlowsExport { .. }
        | Command::PoolList
        | Command::IgwList
        | Command::ExternalList
        | Command::V2bList
        | Command::BoundaryMapList
        | Command::Export => false,
        Command::PatchSet { .. }
        | Command::Apply { .. }
        | Command::PatchClear { .. }
        | Command::VnicCreate(_)
        | Command::VnicDelete { .. }
        | Command::InstanceTypeSet { .. }
        | Command::InstanceCreate { .. }
        | Command::InstanceState { .. }
        | Command::NicCreate(_)
        | Command::NicDelete { .. }
        | Command::NicAttach(_)
        | Command::NicDetach { .. }
        | Command::PortAdd { .. }
        | Command::PortDel { .. }
        | Command::UnderlaySet { .. }
        | Command::V2pSet { .. }
        | Command::V2pClear { .. }
        | Command::RouteAdd { .. }
        | Command::RouteDel { .. }
        | Command::FirewallSet { .. }
        | Command::FlowsClear { .. }
        | Command::FlowsImport(_)
        | Command::PoolCreate { .. }
        | Command::PoolDelete { .. }
        | Command::IgwCreate { .. }
        | Command::IgwDelete { .. }
        | Command::IgwAssign { .. }
        | Command::IgwUnassign { .. }
        | Command::ExternalSet(_)
        | Command::ExternalClear { .. }
        | Command::V2bSet { .. }
        | Command::V2bClear { .. }
        | Command::ExternalPortSet { .. }
        | Command::BoundaryMapSet { .. }
        | Command::BoundaryMapClear { .. }
        | Command::BridgeLinkSet(_)
        | Command::BridgeLinkClear { .. }
        | Command::StaticNatSet(_)
        | Command::StaticNatClear { .. }
        | Command::Shutdown => true,
    }
}

/// The command's name as the protocol spells it (`vnic-create`), taken from
/// its serialized form so that it can never drift from the API's.
pub fn command_name(cmd: &Command) -> String {
    serde_json::to_value(cmd)
        .ok()
        .and_then(|v| v.get("command")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown-command".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::parse_request;

    fn cmd(line: &str) -> Command {
        parse_request(line).unwrap()
    }

    #[test]
    fn read_only_commands_are_not_logged_and_changes_are() {
        for name in [
            "status",
            "ports",
            "stats",
            "patch-list",
            "vnic-list",
            "v2p-list",
            "pool-list",
            "igw-list",
            "external-list",
            "v2b-list",
            "boundary-map-list",
        ] {
            let c = cmd(&format!(r#"{{"version":1,"command":"{name}"}}"#));
            assert!(!changes_state(&c), "{name}");
            assert_eq!(command_name(&c), name);
        }
        let flows = cmd(r#"{"version":1,"command":"flows"}"#);
        assert!(!changes_state(&flows));
        let layers = cmd(r#"{"version":1,"command":"layers","port":"a"}"#);
        assert!(!changes_state(&layers));
        for (line, name) in [
            (
                r#"{"version":1,"command":"patch-set","from":"a","to":"b"}"#,
                "patch-set",
            ),
            (r#"{"version":1,"command":"patch-clear"}"#, "patch-clear"),
            (r#"{"version":1,"command":"flows-clear"}"#, "flows-clear"),
            (
                r#"{"version":1,"command":"vnic-delete","port":"a"}"#,
                "vnic-delete",
            ),
            (
                r#"{"version":1,"command":"igw-create","id":3}"#,
                "igw-create",
            ),
            (r#"{"version":1,"command":"shutdown"}"#, "shutdown"),
        ] {
            let c = cmd(line);
            assert!(changes_state(&c), "{name}");
            assert_eq!(command_name(&c), name);
        }
    }
}
