//! The instance metadata service under arbitrary guests: a byte string
//! becomes a sequence of TCP segments to 169.254.169.254:80 (well-formed
//! IPv4 with valid checksums, so that they reach the TCP and HTTP code, with
//! arbitrary flags, numbers and payloads) from three tenants, or raw bytes,
//! with the clock moving on. Nothing may panic, the stacks stay within their
//! bound, and every packet sent back is IPv4 from 169.254.169.254 to the
//! tenant that asked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use vswitch_metadata::{InstanceView, Limits, MetadataServer, NicView};

const GUEST: [u8; 4] = [172, 30, 0, 5];
const SERVICE: [u8; 4] = [169, 254, 169, 254];

fn sum(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from(c[0]) << 8 };
        acc += u32::from(w);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// An IPv4 TCP segment from the guest to the service, checksums right.
fn segment(sport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let tcp_len = 20 + payload.len();
    let total = 20 + tcp_len;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&GUEST);
    p[16..20].copy_from_slice(&SERVICE);
    let c = fold(sum(&p[..20], 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&4096u16.to_be_bytes());
    t[20..].copy_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&GUEST);
    pseudo.extend_from_slice(&SERVICE);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
    let c = fold(sum(&p[20..], sum(&pseudo, 0)));
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

fn view(key: u32) -> Option<InstanceView> {
    (key != 2).then(|| InstanceView {
        instance_id: format!("i-{key}"),
        nics: vec![NicView {
            device_index: 0,
            mac: [0xa8, 0x40, 0x25, 0, 0, key as u8],
            interface_id: format!("eni-{key}"),
            local_ipv4s: vec![GUEST.into()],
            ipv6s: vec![],
            subnet_id: Some("subnet-a".into()),
            vpc_id: None,
            security_group_ids: vec!["web".into()],
            subnet_ipv4_cidr_block: None,
        }],
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_stacks: 2,
        conns_per_stack: 2,
        ..Limits::default()
    };
    let mut server = MetadataServer::new(limits);
    let source = view;
    let start = Instant::now();
    let mut now = start;
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 12 {
        let (head, tail) = rest.split_at(12);
        let key = u32::from(head[0] % 3);
        let len = usize::from(head[11] % 64).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        if head[1] == 0xff {
            // Raw bytes, whatever they are.
            server.receive(key, payload, now);
        } else {
            let sport = 40000 + u16::from(head[1] % 4);
            let seq = u32::from_be_bytes([head[2], head[3], head[4], head[5]]);
            let ack = u32::from_be_bytes([head[6], head[7], head[8], head[9]]);
            let flags = head[10];
            server.receive(key, &segment(sport, seq, ack, flags, payload), now);
        }
        now += Duration::from_millis(u64::from(head[0] >> 2) * 250);
        server.poll(now, &source, &mut out);
        for (k, p) in out.drain(..) {
            assert!(k < 3, "a packet for a tenant that never sent");
            assert!(p.len() >= 20 && p[0] >> 4 == 4, "IPv4");
            assert_eq!(p[12..16], SERVICE, "from the service");
            assert_eq!(p[16..20], GUEST, "to the guest");
        }
        assert!(server.counters().stacks <= 2, "stacks within their bound");
        let _ = server.poll_delay(now);
    }
});
