//! Reading every key under a prefix in pages, all at one revision.
//!
//! One range request for a whole prefix is answered in one gRPC message,
//! which the client refuses above 4 MiB: 100,000 V2P entries are about
//! 10 MiB. So a prefix is read [`PAGE`] keys at a time, every page after
//! the first pinned at the first one's revision, and the result is the
//! same consistent snapshot one request would have given.

use etcd_client::{Client, GetOptions};

/// Keys per request: a few hundred KiB of fleet records.
pub const PAGE: i64 = 1000;

/// One key and its value, with the revision it was last changed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Vec<u8>,
    /// Its modification revision.
    pub mod_revision: i64,
}

/// The end of the key range of `prefix` (etcd's prefix convention: the last
/// byte below 0xff incremented, what follows it dropped).
pub fn range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff (or no prefix): to the end of the key space.
    vec![0]
}

/// Every key under `prefix`, in key order, and the revision they were read
/// at; `page` keys per request.
pub async fn read_prefix(
    client: &mut Client,
    prefix: &str,
    page: i64,
) -> Result<(i64, Vec<Entry>), etcd_client::Error> {
    let end = range_end(prefix.as_bytes());
    let mut from = prefix.as_bytes().to_vec();
    let mut revision = 0;
    let mut out = Vec::new();
    loop {
        let mut opts = GetOptions::new().with_range(end.clone()).with_limit(page);
        if revision > 0 {
            opts = opts.with_revision(revision);
        }
        let r = client.get(from.clone(), Some(opts)).await?;
        if revision == 0 {
            revision = r.header().map_or(0, |h| h.revision());
        }
        for kv in r.kvs() {
            out.push(Entry {
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                value: kv.value().to_vec(),
                mod_revision: kv.mod_revision(),
            });
        }
        match r.kvs().last() {
            Some(kv) if r.more() => {
                // The next page starts just after the last key read.
                from = kv.key().to_vec();
                from.push(0);
            }
            _ => return Ok((revision, out)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_end_follows_etcds_prefix_rule() {
        assert_eq!(range_end(b"/vswitch/v1/"), b"/vswitch/v10".to_vec());
        assert_eq!(range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(range_end(b"\xff\xff"), vec![0]);
    }
}
