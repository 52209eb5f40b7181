//! A minimal HTTP/1.x server side: enough to parse a GET of a fixed tree and
//! write its answer, nothing more.
//!
//! Hand-written on purpose: only the request line is interpreted (headers are
//! checked for shape and otherwise ignored, a body is never read), and every
//! answer closes the connection, so there is no keep-alive, chunking or
//! pipelining to get wrong.

use crate::{tree, Counters, MetadataSource};

/// Where the request head ends in `buf` (just past the blank line that ends
/// it, `\r\n\r\n` or a bare `\n\n`), `None` if it has not ended yet.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut newline_before: Option<usize> = None;
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        if let Some(prev) = newline_before {
            let between = &buf[prev + 1..i];
            if between.is_empty() || between == b"\r" {
                return Some(i + 1);
            }
        }
        newline_before = Some(i);
    }
    None
}

/// A request as this server understands it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    /// GET (or HEAD when `head_only`) of `path`, without its query.
    Get { path: &'a str, head_only: bool },
    /// A well-formed request with another method.
    NotAllowed,
    /// Anything else.
    Bad,
}

/// Parses a complete request head (as [`head_end`] delimits it).
pub(crate) fn parse(head: &[u8]) -> Request<'_> {
    let Ok(text) = std::str::from_utf8(head) else {
        return Request::Bad;
    };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(request_line) = lines.next() else {
        return Request::Bad;
    };
    // Every header line up to the blank one must be `name: value`.
    for line in lines.take_while(|l| !l.is_empty()) {
        match line.split_once(':') {
            Some((name, _)) if is_token(name) => {}
            _ => return Request::Bad,
        }
    }
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Request::Bad;
    }
    let Some(path) = origin_path(target) else {
        return Request::Bad;
    };
    match method {
        "GET" => Request::Get {
            path,
            head_only: false,
        },
        "HEAD" => Request::Get {
            path,
            head_only: true,
        },
        m if is_token(m) => Request::NotAllowed,
        _ => Request::Bad,
    }
}

/// The path of a request target in origin form (`/a/b?q`) or absolute form
/// (`http://host/a/b?q`), without query or fragment.
fn origin_path(target: &str) -> Option<&str> {
    let target = match target.strip_prefix("http://") {
        Some(rest) => &rest[rest.find('/')?..],
        None => target,
    };
    if !target.starts_with('/') {
        return None;
    }
    let end = target.find(['?', '#']).unwrap_or(target.len());
    Some(&target[..end])
}

/// An HTTP token (a method or a header name): visible ASCII, no separators.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The statuses this server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// 200.
    Ok,
    /// 400.
    BadRequest,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
        }
    }
}

/// A whole response: status line, `Content-Type: text/plain`,
/// `Content-Length`, `Connection: close`, then `body` unless `head_only`.
pub(crate) fn response(status: Status, body: &str, head_only: bool) -> Vec<u8> {
    let allow = if status == Status::MethodNotAllowed {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        status.line(),
        body.len(),
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// The answer to a complete request head from tenant `key`, counted.
pub(crate) fn answer(
    head: &[u8],
    key: u32,
    source: &dyn MetadataSource,
    counters: &mut Counters,
) -> Vec<u8> {
    match parse(head) {
        Request::Bad => bad_request(counters),
        Request::NotAllowed => {
            counters.requests += 1;
            counters.responses_not_allowed += 1;
            response(Status::MethodNotAllowed, "Method Not Allowed", false)
        }
        Request::Get { path, head_only } => {
            counters.requests += 1;
            let body = source
                .instance_of(key)
                .and_then(|view| tree::lookup(&view, path));
            match body {
                Some(body) => {
                    counters.responses_ok += 1;
                    response(Status::Ok, &body, head_only)
                }
                None => {
                    counters.responses_not_found += 1;
                    response(Status::NotFound, "Not Found", head_only)
                }
            }
        }
    }
}

/// The answer to a malformed or over-long request, counted.
pub(crate) fn bad_request(counters: &mut Counters) -> Vec<u8> {
    counters.requests += 1;
    counters.responses_bad_request += 1;
    response(Status::BadRequest, "Bad Request", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_finds_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn parses_get_and_head_with_either_version() {
        assert_eq!(
            parse(b"GET /latest/meta-data/?x=1 HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"),
            Request::Get {
                path: "/latest/meta-data/",
                head_only: false
            }
        );
        assert_eq!(
            parse(b"HEAD http://169.254.169.254/latest HTTP/1.0\r\n\r\n"),
            Request::Get {
                path: "/latest",
                head_only: true
            }
        );
        assert_eq!(
            parse(b"PUT /latest/api/token HTTP/1.1\r\n\r\n"),
            Request::NotAllowed
        );
    }

    #[test]
    fn rejects_what_is_not_http_1() {
        for bad in [
            &b"GET /latest HTTP/2.0\r\n\r\n"[..],
            b"GET /latest\r\n\r\n",
            b"GET  /latest HTTP/1.1\r\n\r\n",
            b"GET latest HTTP/1.1\r\n\r\n",
            b"GET /latest HTTP/1.1\r\nno colon here\r\n\r\n",
            b"G(T /latest HTTP/1.1\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
            b"GET http://host HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Request::Bad, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn responses_carry_length_type_and_close() {
        let r = String::from_utf8(response(Status::Ok, "abc", false)).unwrap_or_default();
        assert_eq!(
            r,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        );
        let h =
            String::from_utf8(response(Status::NotFound, "Not Found", true)).unwrap_or_default();
        assert!(h.starts_with("HTTP/1.1 404 Not Found\r\n"), "{h}");
        assert!(
            h.contains("Content-Length: 9\r\n") && h.ends_with("\r\n\r\n"),
            "{h}"
        );
        let m =
            String::from_utf8(response(Status::MethodNotAllowed, "x", false)).unwrap_or_default();
        assert!(m.contains("Allow: GET, HEAD\r\n"), "{m}");
    }
}
