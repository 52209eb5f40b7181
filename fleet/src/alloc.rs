//! The rack's allocations as etcd transactions: a sled's number (and so its
//! /64) is claimed by creating `sled-numbers/N`, an endpoint address by
//! creating its own key, each only if the key does not exist; a controller
//! that loses the race reads again and takes the next free one.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use vswitch_fabric::endpoints::{check_release, next_endpoint, EndpointError};
use vswitch_fabric::keys;
use vswitch_fabric::plan::{PlanError, Prefix6, RackPlan};

/// Attempts at a transaction before giving up (each lost race re-reads).
const RETRIES: usize = 64;

/// What a fleet command refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// etcd did not answer, or refused.
    #[error("{0}")]
    Etcd(String),
    /// A value in etcd does not parse.
    #[error("{0}: the value in etcd does not parse: {1}")]
    Corrupt(String, String),
    /// The command breaks a rule.
    #[error("{0}")]
    Refused(String),
    /// The rack plan refuses.
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// No endpoint address.
    #[error("{0}")]
    Endpoint(#[from] EndpointError),
    /// Every attempt lost a race to another controller.
    #[error("{0}: {RETRIES} attempts lost to concurrent changes; try again")]
    Busy(String),
}

/// A sled of the rack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sled {
    /// Its name.
    pub name: String,
    /// Its number in the rack.
    pub number: u16,
    /// Its /64.
    pub prefix: Prefix6,
    /// Its own underlay address (::1 of the /64).
    pub underlay: Ipv6Addr,
    /// The rack it is addressed from, when not the rack plan's own (a
    /// pod's own underlay: `sled-add --rack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rack: Option<u8>,
}

/// An endpoint address in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The sled whose /64 it is in.
    pub sled: String,
    /// The address.
    pub addr: Ipv6Addr,
    /// What holds it (an instance, a daemon).
    pub holder: String,
}

/// A name and the address it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    /// The name.
    pub name: String,
    /// Its address.
    pub addr: Ipv6Addr,
}

fn segment(what: &str, s: &str) -> Result<(), FleetError> {
    if keys::valid_segment(s) {
        Ok(())
    } else {
        Err(FleetError::Refused(format!(
            "{what} {s:?}: 1 to 63 ASCII letters, digits, '-' or '.'"
        )))
    }
}

/// `rack-set`: the rack's zone and number. Refused once sleds are
/// addressed from another plan.
pub fn rack_set(store: &mut Store, plan: RackPlan) -> Result<RackPlan, FleetError> {
    if let Some(old) = store.get::<RackPlan>(&keys::rack())? {
        if old == plan {
            return Ok(plan);
        }
        let sleds = store.list::<Sled>(&keys::sleds())?;
        if !sleds.is_empty() {
            return Err(FleetError::Refused(format!(
                "the rack is zone {} rack {} and {} sled(s) are addressed from it: it cannot change",
                old.zone,
                old.rack,
                sleds.len()
            )));
        }
    }
    store.put(&keys::rack(), &plan)?;
    Ok(plan)
}

/// `sled-add`: the next sled number (the lowest free), its /64 and ::1.
pub fn sled_add(store: &mut Store, name: &str, rack: Option<u8>) -> Result<Sled, FleetError> {
    segment("sled", name)?;
    let mut plan = store
        .get::<RackPlan>(&keys::rack())?
        .ok_or_else(|| FleetError::Refused("no rack plan yet: rack-set first".into()))?;
    // Another rack of the zone (a pod of its own): its own /56, its own
    // sled numbers.
    let rack = rack.filter(|r| *r != plan.rack);
    if let Some(r) = rack {
        plan.rack = r;
    }
    for _ in 0..RETRIES {
        if store.get::<Sled>(&keys::sled(name))?.is_some() {
            return Err(FleetError::Refused(format!("sled {name:?} exists")));
        }
        let taken = store
            .list::<Sled>(&keys::sleds())?
            .into_iter()
            .filter(|(_, s)| s.rack == rack)
            .map(|(_, s)| s.number);
        let number = plan.next_sled(taken)?;
        let sled = Sled {
            name: name.to_string(),
            number,
            prefix: plan.sled_prefix(number)?,
            underlay: plan.sled_underlay(number)?,
            rack,
        };
        let claim = match rack {
            None => keys::sled_number(number),
            Some(r) => keys::sled_number_in(r, number),
        };
        let key = keys::sled(name);
        let value = serde_json::to_value(&sled).map_err(|e| FleetError::Etcd(e.to_string()))?;
        if store.put_if_absent(&[&key, &claim], &[(&key, value), (&claim, json!(name))])? {
            return Ok(sled);
        }
    }
    Err(FleetError::Busy(format!("sled-add {name}")))
}

/// The sleds, by name.
pub fn sled_list(store: &mut Store) -> Result<Vec<Sled>, FleetError> {
    Ok(store
        .list::<Sled>(&keys::sleds())?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

fn sled_named(store: &mut Store, name: &str) -> Result<Sled, FleetError> {
    segment("sled", name)?;
    store
        .get::<Sled>(&keys::sled(name))?
        .ok_or_else(|| FleetError::Refused(format!("unknown sled {name:?} (sled-add first)")))
}

/// `endpoint-alloc`: the lowest free endpoint address of `sled` (from ::100),
/// held by `holder`.
pub fn endpoint_alloc(store: &mut Store, sled: &str, holder: &str) -> Result<Endpoint, FleetError> {
    let s = sled_named(store, sled)?;
    for _ in 0..RETRIES {
        let used: BTreeSet<Ipv6Addr> = store
            .list::<Endpoint>(&keys::endpoints(sled))?
            .into_iter()
            .map(|(_, e)| e.addr)
            .collect();
        let addr = next_endpoint(s.prefix, &used)?;
        let e = Endpoint {
            sled: sled.to_string(),
            addr,
            holder: holder.to_string(),
        };
        let key = keys::endpoint(sled, addr);
        let value = serde_json::to_value(&e).map_err(|x| FleetError::Etcd(x.to_string()))?;
        if store.put_if_absent(&[&key], &[(&key, value)])? {
            return Ok(e);
        }
    }
    Err(FleetError::Busy(format!("endpoint-alloc {sled}")))
}

/// `endpoint-release`: gives `addr` back to `sled`'s pool.
pub fn endpoint_release(store: &mut Store, sled: &str, addr: Ipv6Addr) -> Result<(), FleetError> {
    let s = sled_named(store, sled)?;
    check_release(s.prefix, addr)?;
    if store.delete(&keys::endpoint(sled, addr))? {
        Ok(())
    } else {
        Err(FleetError::Refused(format!(
            "{addr} is not allocated on sled {sled:?}"
        )))
    }
}

/// The endpoint addresses in use (of one sled, or all).
pub fn endpoint_list(store: &mut Store, sled: Option<&str>) -> Result<Vec<Endpoint>, FleetError> {
    let prefix = match sled {
        Some(s) => {
            segment("sled", s)?;
            keys::endpoints(s)
        }
        None => format!("{}/endpoints/", keys::ROOT),
    };
    Ok(store
        .list::<Endpoint>(&prefix)?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

/// `name-set`: binds (or moves) `name` to `addr`.
pub fn name_set(store: &mut Store, name: &str, addr: Ipv6Addr) -> Result<Name, FleetError> {
    segment("name", name)?;
    let n = Name {
        name: name.to_string(),
        addr,
    };
    store.put(&keys::name(name), &n)?;
    Ok(n)
}

/// `name-del`: removes a name.
pub fn name_del(store: &mut Store, name: &str) -> Result<(), FleetError> {
    segment("name", name)?;
    if store.delete(&keys::name(name))? {
        Ok(())
    } else {
        Err(FleetError::Refused(format!("there is no name {name:?}")))
    }
}

/// Every name, in order.
pub fn name_list(store: &mut Store) -> Result<Vec<Name>, FleetError> {
    Ok(store
        .list::<Name>(&keys::names())?
        .into_iter()
        .map(|(_, n)| n)
        .collect())
}
