//! The README's example state document is a document this build reads: it
//! parses, round-trips through JSON, and holds what the README says.

use vswitch_api::state::{SwitchState, STATE_VERSION};

fn example() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- state-example -->")
        .expect("the README marks its example");
    let rest = &readme[start..];
    let body = rest
        .split_once("```json\n")
        .and_then(|(_, b)| b.split_once("\n```"))
        .map(|(b, _)| b)
        .expect("a json block after the marker");
    body.to_string()
}

#[test]
fn the_readme_example_parses_and_round_trips() {
    let text = example();
    let s: SwitchState = serde_json::from_str(&text).expect("the README's example parses");
    assert_eq!(s.version, STATE_VERSION);
    assert_eq!(s.role, "sled");
    assert_eq!(s.generation, Some(12));
    assert_eq!(s.nics.len(), 2);
    assert_eq!(s.nics[0].routes.len(), 2);
    assert_eq!(s.nics[0].firewall.len(), 2);
    assert!(s.nics[0].external.is_some());
    assert_eq!(
        s.instance("web-1").map(|i| i.instance_type.as_deref()),
        Some(Some("general"))
    );
    let back = s.vnic("g1").expect("NIC 2 is bound to port g1");
    assert_eq!(back.nic.id, 2);
    assert!(!back.nic.source_dest_check);
    assert_eq!(back.attached().map(|a| a.device_index), Some(1));
    assert_eq!(s.v2p.len(), 3);
    assert_eq!((s.pools.len(), s.igws.len(), s.v2b.len()), (1, 1, 1));
    let again: SwitchState =
        serde_json::from_str(&serde_json::to_string(&s).expect("encode")).expect("re-parse");
    assert_eq!(again, s);
}
