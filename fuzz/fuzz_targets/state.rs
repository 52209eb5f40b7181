//! A state document from arbitrary bytes, through `apply`'s path on a sled
//! with ports `up` (uplink), `g0`, `g1` (guests): nothing may panic; a
//! document is either refused, with at least one error and the state in
//! force untouched, or published, and then the state in force applied again
//! changes nothing and its JSON reads back as itself.
//!
//! Run: `mkdir -p corpus/state && cp seeds/state/* corpus/state/ &&
//! RUSTC_BOOTSTRAP=1 cargo fuzz run state corpus/state -- -max_total_time=300`.

#![no_main]

use engine::control::{commit, PortDirectory};
use engine::tables::{Snapshot, TableStore};
use engine::{PortRole, SwitchRole};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use vswitch_api::state::SwitchState;
use wire::MacAddr;

fn dir() -> PortDirectory {
    PortDirectory {
        names: vec!["up".into(), "g0".into(), "g1".into()],
        roles: vec![PortRole::Uplink, PortRole::Guest, PortRole::Guest],
        macs: (0..3u8).map(|i| MacAddr([2, 0, 0, 0, 0, i])).collect(),
        workers: 1,
        flow_quota: 64,
        mtus: vec![9000, 1500, 1500],
        runtime: vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<SwitchState>(data) else {
        return;
    };
    let d = dir();
    let tables = TableStore::new(Snapshot::with_role(SwitchRole::Sled, 3));
    let before = tables.current();
    match commit::commit(&d, &tables, state) {
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal says why");
            assert!(Arc::ptr_eq(&tables.current(), &before), "a refusal changes nothing");
        }
        Ok(_) => {
            let now = SwitchState::clone(&tables.current().state);
            let again = commit::commit(&d, &tables, now.clone());
            assert!(
                again.as_ref().is_ok_and(|c| !c.changed),
                "the state in force applied again: {again:?}"
            );
            let text = serde_json::to_string(&now).expect("a state encodes");
            let back: SwitchState = serde_json::from_str(&text).expect("and decodes");
            assert_eq!(back, now);
        }
    }
});
