//! Every path of the tree, and the HTTP around it.

use vswitch_metadata::Limits;

use crate::harness::{parse_response, two_nic_instance, World};

fn world() -> (World, usize) {
    let mut w = World::new(Limits::default());
    w.views.insert(1, two_nic_instance("i-0123456789abcdef0"));
    let g = w.guest(1);
    (w, g)
}

#[test]
fn every_path_answers_the_ec2_body() {
    let (mut w, g) = world();
    let a = "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:aa";
    let b = "/latest/meta-data/network/interfaces/macs/02:00:00:00:01:bb";
    let cases: Vec<(String, &str)> = vec![
        ("/latest".into(), "meta-data/"),
        ("/latest/".into(), "meta-data/"),
        ("/latest/meta-data".into(), "instance-id\nlocal-ipv4\nmac\nnetwork/"),
        ("/latest/meta-data/".into(), "instance-id\nlocal-ipv4\nmac\nnetwork/"),
        ("/latest/meta-data/instance-id".into(), "i-0123456789abcdef0"),
        ("/latest/meta-data/local-ipv4".into(), "10.1.1.10"),
        ("/latest/meta-data/mac".into(), "02:00:00:00:00:aa"),
        ("/latest/meta-data/network".into(), "interfaces/"),
        ("/latest/meta-data/network/".into(), "interfaces/"),
        ("/latest/meta-data/network/interfaces".into(), "macs/"),
        ("/latest/meta-data/network/interfaces/".into(), "macs/"),
        (
            "/latest/meta-data/network/interfaces/macs".into(),
            "02:00:00:00:00:aa/\n02:00:00:00:01:bb/",
        ),
        (
            "/latest/meta-data/network/interfaces/macs/".into(),
            "02:00:00:00:00:aa/\n02:00:00:00:01:bb/",
        ),
        (
            format!("{a}/"),
            "device-number\ninterface-id\nipv6s\nlocal-ipv4s\nmac\nsecurity-group-ids\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id",
        ),
        (
            a.to_string(),
            "device-number\ninterface-id\nipv6s\nlocal-ipv4s\nmac\nsecurity-group-ids\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id",
        ),
        (format!("{a}/device-number"), "0"),
        (format!("{a}/interface-id"), "eni-primary"),
        (format!("{a}/ipv6s"), "2001:db8::10"),
        (format!("{a}/local-ipv4s"), "10.1.1.10\n10.1.1.11"),
        (format!("{a}/mac"), "02:00:00:00:00:aa"),
        (format!("{a}/security-group-ids"), "sg-first\nsg-second"),
        (format!("{a}/subnet-id"), "subnet-a"),
        (format!("{a}/subnet-ipv4-cidr-block"), "10.1.1.0/24"),
        (format!("{a}/vpc-id"), "vpc-1"),
        (
            format!("{b}/"),
            "device-number\ninterface-id\nlocal-ipv4s\nmac\nsecurity-group-ids\nsubnet-id\nvpc-id",
        ),
        (format!("{b}/device-number"), "1"),
        (format!("{b}/interface-id"), "eni-second"),
        (format!("{b}/local-ipv4s"), "10.1.2.30"),
        (format!("{b}/mac"), "02:00:00:00:01:bb"),
        (format!("{b}/security-group-ids"), "sg-third"),
        (format!("{b}/subnet-id"), "subnet-b"),
        (format!("{b}/vpc-id"), "vpc-1"),
        // The MAC in the path may be upper-case, and a query is ignored.
        (
            "/latest/meta-data/network/interfaces/macs/02:00:00:00:01:BB/mac".into(),
            "02:00:00:00:01:bb",
        ),
        ("/latest/meta-data/instance-id?x=1".into(), "i-0123456789abcdef0"),
    ];
    for (path, body) in &cases {
        let r = w.get(g, path);
        assert_eq!((r.status, r.body.as_str()), (200, *body), "GET {path}");
    }
    let c = w.server.counters();
    assert_eq!(c.requests, cases.len() as u64);
    assert_eq!(c.responses_ok, cases.len() as u64);
    assert_eq!(c.stacks, 1);
}

#[test]
fn unknown_paths_and_an_unattached_tenant_get_404() {
    let (mut w, g) = world();
    let b = "/latest/meta-data/network/interfaces/macs/02:00:00:00:01:bb";
    for path in [
        "/",
        "/latest/user-data",
        "/latest/meta-data/hostname",
        "/latest/meta-data/instance-id/",
        "/latest//meta-data/",
        "/2009-04-04/meta-data/",
        "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:cc/",
        "/latest/meta-data/network/interfaces/macs/not-a-mac/",
        &format!("{b}/ipv6s"),
        &format!("{b}/subnet-ipv4-cidr-block"),
        &format!("{b}/mac/"),
    ] {
        let r = w.get(g, path);
        assert_eq!(r.status, 404, "GET {path}: {}", r.body);
    }
    assert_eq!(w.server.counters().responses_not_found, 11);

    // Tenant 2 is attached to no instance: even the root of the tree is 404.
    let lone = w.guest(2);
    for path in ["/latest/meta-data/", "/latest/meta-data/instance-id"] {
        assert_eq!(w.get(lone, path).status, 404, "GET {path}");
    }
    assert_eq!(w.server.counters().responses_not_found, 13);
    assert_eq!(w.server.counters().responses_ok, 0);
}

#[test]
fn head_http10_and_other_methods() {
    let (mut w, g) = world();
    let raw = w.exchange(g, b"HEAD /latest/meta-data/instance-id HTTP/1.1\r\n\r\n");
    let r = parse_response(&raw, true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("19"));

    let raw = w.exchange(g, b"GET /latest/meta-data/local-ipv4 HTTP/1.0\r\n\r\n");
    let r = parse_response(&raw, false);
    assert_eq!((r.status, r.body.as_str()), (200, "10.1.1.10"));

    let raw = w.exchange(
        g,
        b"PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n",
    );
    let r = parse_response(&raw, false);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));

    let raw = w.exchange(g, b"GET /latest HTTP/2\r\n\r\n");
    assert_eq!(parse_response(&raw, false).status, 400);

    let c = w.server.counters();
    assert_eq!(
        (
            c.requests,
            c.responses_ok,
            c.responses_not_allowed,
            c.responses_bad_request
        ),
        (4, 2, 1, 1)
    );
}

#[test]
fn a_request_in_pieces_is_answered() {
    let (mut w, g) = world();
    let h = w.guests[g].connect();
    w.run_until(|w| w.guests[g].state(h) == smoltcp::socket::tcp::State::Established);
    for piece in [
        &b"GET /latest/meta-data/instance-id HT"[..],
        b"TP/1.1\r\nHost: x\r\n\r",
        b"\n",
    ] {
        assert!(
            w.guests[g].received(h).is_empty(),
            "no answer before the head ends"
        );
        w.guests[g].send(h, piece);
        w.settle();
    }
    w.run_until(|w| !w.guests[g].socket(h).may_recv());
    let r = parse_response(w.guests[g].received(h), false);
    assert_eq!((r.status, r.body.as_str()), (200, "i-0123456789abcdef0"));
}

#[test]
fn an_answer_larger_than_the_send_buffer_arrives_whole() {
    let mut w = World::new(Limits::default());
    let mut view = two_nic_instance("i-big");
    let groups: Vec<String> = (0..3000).map(|i| format!("sg-{i:017x}")).collect();
    for nic in view.nics.iter_mut().filter(|n| n.device_index == 1) {
        nic.security_group_ids = groups.clone();
    }
    w.views.insert(1, view);
    let g = w.guest(1);
    let r = w.get(g, "/latest/meta-data/mac");
    assert_eq!(r.body, "02:00:00:00:00:aa");
    let r = w.get(
        g,
        "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:aa/security-group-ids",
    );
    assert_eq!(r.body, "sg-first\nsg-second");
    let r = w.get(
        g,
        "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:aa/",
    );
    assert!(r.body.contains("security-group-ids"));
    let r = w.get(
        g,
        "/latest/meta-data/network/interfaces/macs/02:00:00:00:01:bb/security-group-ids",
    );
    assert!(
        r.body.len() > 3 * Limits::default().tx_buffer,
        "{}",
        r.body.len()
    );
    assert!(r.body == groups.join("\n"), "the whole list, in order");
}
