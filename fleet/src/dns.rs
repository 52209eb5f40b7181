//! The underlay DNS zone (README, *The rack fabric*): answers AAAA for every
//! name in etcd (`names/NAME` -> `NAME.ZONE`), kept current by an etcd
//! watch. The wire format and serving are `hickory-server`'s; what is here
//! is the zone's contents and the watch that keeps them.
//!
//! While etcd is away the server keeps answering from what it last had, and
//! reconnects; on reconnection it reads every name again (a full resync:
//! the revision it watched from may have been compacted meanwhile).

use crate::alloc::Name;
use etcd_client::{Client, ConnectOptions, EventType, WatchOptions};
use hickory_proto::op::{Header, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{LowerName, RData, Record, RecordType};
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::ServerFuture;
use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use vswitch_fabric::keys;

/// Seconds a resolver may keep an answer: short, since names move.
const TTL: u32 = 5;
/// How long to wait before reconnecting to etcd.
const RETRY: Duration = Duration::from_millis(500);

/// The zone's records: a lower-case FQDN to its address.
type Records = Arc<RwLock<HashMap<LowerName, Ipv6Addr>>>;

/// Answers queries for the zone from `records`.
struct Zone {
    origin: LowerName,
    records: Records,
}

#[async_trait::async_trait]
impl RequestHandler for Zone {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut header = Header::response_from_request(request.header());
        let info = match request.request_info() {
            Ok(i) => i,
            Err(_) => {
                let r = builder.error_msg(request.header(), ResponseCode::FormErr);
                return send(&mut response, r, request.header()).await;
            }
        };
        if info.header.message_type() != MessageType::Query
            || info.header.op_code() != OpCode::Query
        {
            let r = builder.error_msg(request.header(), ResponseCode::NotImp);
            return send(&mut response, r, request.header()).await;
        }
        let name = info.query.name().clone();
        if !self.origin.zone_of(&name) {
            let r = builder.error_msg(request.header(), ResponseCode::Refused);
            return send(&mut response, r, request.header()).await;
        }
        header.set_authoritative(true);
        let found = self.records.read().ok().and_then(|r| r.get(&name).copied());
        let answers: Vec<Record> = match found {
            Some(addr) if info.query.query_type() == RecordType::AAAA => vec![Record::from_rdata(
                name.into(),
                TTL,
                RData::AAAA(AAAA(addr)),
            )],
            Some(_) => Vec::new(),
            None => {
                header.set_response_code(ResponseCode::NXDomain);
                Vec::new()
            }
        };
        let r = builder.build(header, answers.iter(), &[], &[], &[]);
        match response.send_response(r).await {
            Ok(i) => i,
            Err(_) => failed(request.header()),
        }
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    r: hickory_server::authority::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Header,
) -> ResponseInfo {
    match response.send_response(r).await {
        Ok(i) => i,
        Err(_) => failed(request),
    }
}

fn failed(request: &Header) -> ResponseInfo {
    let mut h = Header::response_from_request(request);
    h.set_response_code(ResponseCode::ServFail);
    h.into()
}

/// The FQDN of `name` in the zone `origin`.
fn fqdn(name: &str, origin: &LowerName) -> Option<LowerName> {
    let n = hickory_proto::rr::Name::from_ascii(format!("{name}.{origin}")).ok()?;
    Some(LowerName::from(n))
}

/// Keeps `records` equal to etcd's names, forever: a full read, then a
/// watch from the revision after it; on any failure, again.
async fn follow(endpoints: Vec<String>, origin: LowerName, records: Records) {
    loop {
        if let Err(e) = follow_once(&endpoints, &origin, &records).await {
            eprintln!("vswitch-fabric dns: {e}; answering from the last names known, retrying");
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn follow_once(
    endpoints: &[String],
    origin: &LowerName,
    records: &Records,
) -> Result<(), etcd_client::Error> {
    let opts = ConnectOptions::new().with_connect_timeout(Duration::from_secs(2));
    let mut client = Client::connect(endpoints, Some(opts)).await?;
    let prefix = keys::names();
    let (revision, all) =
        crate::paged::read_prefix(&mut client, &prefix, crate::paged::PAGE).await?;
    let mut fresh = HashMap::new();
    for kv in &all {
        if let Ok(n) = serde_json::from_slice::<Name>(&kv.value) {
            if let Some(f) = fqdn(&n.name, origin) {
                fresh.insert(f, n.addr);
            }
        }
    }
    if let Ok(mut r) = records.write() {
        *r = fresh;
    }
    let (_watcher, mut stream) = client
        .watch(
            prefix.as_str(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await?;
    while let Some(resp) = stream.message().await? {
        if resp.canceled() {
            break;
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let key = String::from_utf8_lossy(kv.key());
            let Some(name) = key.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let Some(f) = fqdn(name, origin) else {
                continue;
            };
            let Ok(mut r) = records.write() else { continue };
            match ev.event_type() {
                EventType::Put => {
                    if let Ok(n) = serde_json::from_slice::<Name>(kv.value()) {
                        r.insert(f, n.addr);
                    }
                }
                EventType::Delete => {
                    r.remove(&f);
                }
            }
        }
    }
    Ok(())
}

/// Serves zone `origin` (`underlay.rack1.`) on `listen`, UDP and TCP, until
/// the process ends.
pub fn serve(endpoints: Vec<String>, listen: SocketAddr, origin: &str) -> Result<(), String> {
    let origin = hickory_proto::rr::Name::from_ascii(origin)
        .map(|mut n| {
            n.set_fqdn(true);
            LowerName::from(n)
        })
        .map_err(|e| format!("zone {origin:?}: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    rt.block_on(async move {
        let records: Records = Arc::default();
        tokio::spawn(follow(endpoints, origin.clone(), Arc::clone(&records)));
        let mut server = ServerFuture::new(Zone { origin, records });
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|e| format!("dns listen {listen} (udp): {e}"))?;
        let tcp = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("dns listen {listen} (tcp): {e}"))?;
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5));
        println!("vswitch-fabric dns: serving {listen}");
        server
            .block_until_done()
            .await
            .map_err(|e| format!("dns: {e}"))
    })
}
