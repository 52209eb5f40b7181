//! A blocking handle on etcd for a controller's commands: one current-thread
//! runtime, JSON values, and transactions that put keys only while they do
//! not exist.

use crate::alloc::FleetError;
use crate::paged;
use etcd_client::{Client, Compare, CompareOp, ConnectOptions, Txn, TxnOp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How long connecting and each request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the fleet's etcd.
pub struct Store {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Store {
    /// Connects to `endpoints` (`http://127.0.0.1:2379`, ...).
    pub fn connect(endpoints: &[String]) -> Result<Store, FleetError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FleetError::Etcd(format!("cannot start a runtime: {e}")))?;
        let opts = ConnectOptions::new()
            .with_connect_timeout(TIMEOUT)
            .with_timeout(TIMEOUT);
        let client = rt
            .block_on(Client::connect(endpoints, Some(opts)))
            .map_err(|e| FleetError::Etcd(format!("etcd {}: {e}", endpoints.join(","))))?;
        Ok(Store { rt, client })
    }

    /// The value of `key`, parsed, if it exists.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, FleetError> {
        let r = self.rt.block_on(self.client.get(key, None)).map_err(etcd)?;
        match r.kvs().first() {
            Some(kv) => serde_json::from_slice(kv.value())
                .map(Some)
                .map_err(|e| FleetError::Corrupt(key.to_string(), e.to_string())),
            None => Ok(None),
        }
    }

    /// Every key under `prefix` with its value, parsed, in key order.
    pub fn list<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, FleetError> {
        self.list_raw(prefix)?
            .into_iter()
            .map(|(key, value, _)| {
                serde_json::from_slice(&value)
                    .map(|v| (key.clone(), v))
                    .map_err(|e| FleetError::Corrupt(key, e.to_string()))
            })
            .collect()
    }

    /// Puts every `(key, value)` in one transaction if none of `absent`
    /// exists (compared by version 0); whether it was done.
    pub fn put_if_absent(
        &mut self,
        absent: &[&str],
        puts: &[(&str, serde_json::Value)],
    ) -> Result<bool, FleetError> {
        let when: Vec<Compare> = absent
            .iter()
            .map(|k| Compare::version(*k, CompareOp::Equal, 0))
            .collect();
        let mut ops = Vec::new();
        for (k, v) in puts {
            let json = serde_json::to_vec(v).map_err(|e| FleetError::Etcd(e.to_string()))?;
            ops.push(TxnOp::put(*k, json, None));
        }
        let r = self
            .rt
            .block_on(self.client.txn(Txn::new().when(when).and_then(ops)))
            .map_err(etcd)?;
        Ok(r.succeeded())
    }

    /// Every key under `prefix`, raw, with its modification revision.
    pub fn list_raw(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>, i64)>, FleetError> {
        let (_, all) = self
            .rt
            .block_on(paged::read_prefix(&mut self.client, prefix, paged::PAGE))
            .map_err(etcd)?;
        Ok(all
            .into_iter()
            .map(|e| (e.key, e.value, e.mod_revision))
            .collect())
    }

    /// The value of `key`, parsed, and its modification revision (0: absent).
    pub fn get_rev<T: DeserializeOwned>(
        &mut self,
        key: &str,
    ) -> Result<(Option<T>, i64), FleetError> {
        let r = self.rt.block_on(self.client.get(key, None)).map_err(etcd)?;
        match r.kvs().first() {
            Some(kv) => serde_json::from_slice(kv.value())
                .map(|v| (Some(v), kv.mod_revision()))
                .map_err(|e| FleetError::Corrupt(key.to_string(), e.to_string())),
            None => Ok((None, 0)),
        }
    }

    /// One transaction: if every key of `guard` is still at its
    /// modification revision (0: still absent), puts `puts` and deletes
    /// `deletes`; whether it was done.
    pub fn commit(
        &mut self,
        guard: &[(String, i64)],
        puts: &[(String, serde_json::Value)],
        deletes: &[String],
    ) -> Result<bool, FleetError> {
        self.commit_unchanged(guard, &[], puts, deletes)
    }

    fn txn(
        &mut self,
        when: Vec<Compare>,
        puts: &[(String, serde_json::Value)],
        deletes: &[String],
    ) -> Result<bool, FleetError> {
        let mut ops = Vec::new();
        for k in deletes {
            ops.push(TxnOp::delete(k.as_str(), None));
        }
        for (k, v) in puts {
            let json = serde_json::to_vec(v).map_err(|e| FleetError::Etcd(e.to_string()))?;
            ops.push(TxnOp::put(k.as_str(), json, None));
        }
        let r = self
            .rt
            .block_on(self.client.txn(Txn::new().when(when).and_then(ops)))
            .map_err(etcd)?;
        Ok(r.succeeded())
    }

    /// Every key under `prefix`, parsed, with the revision it was read at.
    pub fn list_at<T: DeserializeOwned>(
        &mut self,
        prefix: &str,
    ) -> Result<(i64, Vec<(String, T)>), FleetError> {
        let (rev, all) = self
            .rt
            .block_on(paged::read_prefix(&mut self.client, prefix, paged::PAGE))
            .map_err(etcd)?;
        let parsed = all
            .into_iter()
            .map(|e| {
                serde_json::from_slice(&e.value)
                    .map(|v| (e.key.clone(), v))
                    .map_err(|err| FleetError::Corrupt(e.key, err.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok((rev, parsed))
    }

    /// [`Store::commit`], also refused if any key under a prefix of
    /// `unchanged` was written (created, changed) after the revision given
    /// with it: a new key a prefix read did not see makes it fail too, which
    /// a compare of known keys alone would miss.
    pub fn commit_unchanged(
        &mut self,
        guard: &[(String, i64)],
        unchanged: &[(String, i64)],
        puts: &[(String, serde_json::Value)],
        deletes: &[String],
    ) -> Result<bool, FleetError> {
        let when: Vec<Compare> = guard
            .iter()
            .map(|(k, rev)| Compare::mod_revision(k.as_str(), CompareOp::Equal, *rev))
            .chain(unchanged.iter().map(|(prefix, rev)| {
                Compare::mod_revision(prefix.as_str(), CompareOp::Less, rev + 1).with_prefix()
            }))
            .collect();
        self.txn(when, puts, deletes)
    }

    /// Puts `value` at `key` (whatever was there).
    pub fn put<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), FleetError> {
        let json = serde_json::to_vec(value).map_err(|e| FleetError::Etcd(e.to_string()))?;
        self.rt
            .block_on(self.client.put(key, json, None))
            .map_err(etcd)?;
        Ok(())
    }

    /// Deletes `key`; whether it existed.
    pub fn delete(&mut self, key: &str) -> Result<bool, FleetError> {
        let r = self
            .rt
            .block_on(self.client.delete(key, None))
            .map_err(etcd)?;
        Ok(r.deleted() > 0)
    }
}

fn etcd(e: etcd_client::Error) -> FleetError {
    FleetError::Etcd(format!("etcd: {e}"))
}
