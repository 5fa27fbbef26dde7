//! The WebDAV mailbox against a hostile or broken server: a tiny HTTP server on
//! loopback answers each request as the test says (the real-server tests run Apache
//! `mod_dav`: cli/tests/webdav.rs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

const PASSWORD: &str = "hunter2-very-secret";

/// Serves `answer(method, path, writer)` for every connection, one request per
/// connection; returns the base URL and a counter of body bytes the server sent.
fn server(
    answer: impl Fn(&str, &str, &mut dyn Write, &AtomicU64) + Send + 'static,
) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let Ok(clone) = conn.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(clone);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let path = parts.next().unwrap_or("").to_owned();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = Read::read_exact(&mut reader, &mut body);
            answer(&method, &path, &mut conn, &counter);
        }
    });
    (format!("http://127.0.0.1:{port}/dav/box/"), sent)
}

fn listing() -> Vec<u8> {
    let xml = "<?xml version=\"1.0\"?><D:multistatus xmlns:D=\"DAV:\">\
        <D:response><D:href>/dav/box/</D:href></D:response>\
        <D:response><D:href>/dav/box/x1/</D:href></D:response>\
        <D:response><D:href>http://127.0.0.1:1/dav/box/x1/0000000001.cvb</D:href></D:response>\
        <D:response><D:href>/dav/box/x1/..%2F..%2Fetc</D:href></D:response>\
        </D:multistatus>";
    format!(
        "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{xml}",
        xml.len()
    )
    .into_bytes()
}

fn respond(w: &mut dyn Write, status: &str, body: &[u8]) {
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = w.write_all(body);
}

fn mailbox(url: &str) -> WebDavMailbox {
    WebDavMailbox::new(
        url,
        Some(("team".into(), Zeroizing::new(PASSWORD.to_owned()))),
    )
    .expect("mailbox")
}

#[test]
fn listing_keeps_plain_outbox_files_only() {
    let (url, _) = server(|method, _, w, _| match method {
        "PROPFIND" => {
            let _ = w.write_all(&listing());
        }
        _ => respond(w, "500 Internal Server Error", b""),
    });
    let m = mailbox(&url);
    // The hostile `x1/../../etc` entry (percent-encoded) is dropped.
    assert_eq!(m.list().expect("list"), vec!["x1/0000000001.cvb"]);
}

#[test]
fn a_one_gigabyte_body_is_refused_without_being_read() {
    // Declared: refused from Content-Length. Undeclared (streamed until the connection
    // closes): refused one byte past the limit, not after 1 GiB.
    let (url, sent) = server(
        |method, path, w, sent| match (method, path.ends_with("2.cvb")) {
            ("GET", false) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n"
                );
                let chunk = vec![0u8; 1 << 20];
                for _ in 0..1024 {
                    if w.write_all(&chunk).is_err() {
                        break;
                    }
                    sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            }
            ("GET", true) => {
                let _ = write!(w, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let chunk = vec![0u8; 1 << 20];
                for _ in 0..1024 {
                    if w.write_all(&chunk).is_err() {
                        break;
                    }
                    sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            }
            _ => respond(w, "500 Internal Server Error", b""),
        },
    );
    let m = mailbox(&url);
    let limit = crate::store::inputs::MAX_BUNDLE_FILE;
    let err = m.read("x1/0000000001.cvb", limit).expect_err("refused");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("1073741824 bytes"), "{err}");
    let err = m.read("x1/0000000002.cvb", limit).expect_err("refused");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("more than"), "{err}");
    // The client hung up long before the gigabyte: at most the limit plus what the
    // kernel buffers held (a few MiB) for each of the two reads.
    std::thread::sleep(Duration::from_millis(200));
    let total = sent.load(Ordering::Relaxed);
    assert!(total < 2 * limit + (64 << 20), "{total} bytes sent");
}

#[test]
fn wrong_statuses_and_plain_web_servers_give_typed_errors_without_the_password() {
    let (url, _) = server(|method, path, w, _| match (method, path) {
        ("PROPFIND", p) if p.contains("denied") => respond(w, "401 Unauthorized", b""),
        ("PROPFIND", _) => respond(w, "200 OK", b"<html>welcome</html>"),
        ("GET", _) => respond(w, "500 Internal Server Error", b"oops"),
        ("PUT", _) => respond(w, "507 Insufficient Storage", b""),
        _ => respond(w, "404 Not Found", b""),
    });
    let plain = mailbox(&url);
    let err = plain.list().expect_err("not DAV");
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == ErrorKind::Unsupported),
        "{err}"
    );
    let denied = mailbox(&url.replace("box/", "denied/"));
    let err = denied.list().expect_err("401");
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == ErrorKind::PermissionDenied),
        "{err}"
    );
    let err = plain.read("x1/0000000001.cvb", 100).expect_err("500");
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    let err = plain.write("x1/0000000001.cvb", b"x").expect_err("507");
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == ErrorKind::StorageFull),
        "{err}"
    );
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{plain:?}"),
        plain.describe(),
    ] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(
            !text.contains(base64(b"team:hunter2-very-secret").as_str()),
            "{text}"
        );
    }
}

#[test]
fn urls_that_would_leak_credentials_are_refused() {
    for url in [
        "http://example.org/dav/",
        "http://10.0.0.1/dav/",
        "https://user:pw@example.org/dav/",
        "ftp://example.org/",
        "not a url",
        "https://example.org/dav/?x=1",
    ] {
        assert!(
            matches!(
                WebDavMailbox::new(url, None),
                Err(Error::InvalidInput { .. })
            ),
            "{url}"
        );
    }
    for url in [
        "https://cloud.example.org/remote.php/dav/files/team/caravan",
        "http://127.0.0.1:8080/x/",
        "http://localhost/x/",
        "http://[::1]:9/x/",
    ] {
        WebDavMailbox::new(url, None).expect(url);
    }
}

#[test]
fn codecs() {
    assert_eq!(
        base64(b"Aladdin:open sesame").as_str(),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(base64(b"ab").as_str(), "YWI=");
    assert_eq!(decode("a%20b%2Fc").as_deref(), Some("a b/c"));
    assert_eq!(decode("%zz"), None);
    assert_eq!(encode_path("x1/.0001.cvb.tmp"), "x1/.0001.cvb.tmp");
    assert_eq!(encode_path("a b"), "a%20b");
    assert_eq!(
        hrefs("<d:href>/a&amp;b/</d:href><href xmlns='DAV:'>/c</href><D:href/>"),
        vec!["/a&b/", "/c"]
    );
}

/// F5 of the round-3 mailbox red team: a listing over its limit was a refused message
/// (exit 6); it is an I/O error naming the limit.
#[test]
fn a_listing_over_its_limit_is_an_io_error() {
    let (url, _) = server(|method, _, w, _| match method {
        "PROPFIND" => {
            let _ = write!(
                w,
                "HTTP/1.1 207 Multi-Status\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                MAX_LISTING + 1
            );
            let _ = w.write_all(&vec![b' '; (MAX_LISTING + 1) as usize]);
        }
        _ => respond(w, "500 Internal Server Error", b""),
    });
    let err = mailbox(&url).list().expect_err("refused");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("over the limit"), "{err}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
}

fn multistatus(hrefs: &[&str]) -> Vec<u8> {
    let body: String = hrefs
        .iter()
        .map(|h| format!("<D:response><D:href>{h}</D:href></D:response>"))
        .collect();
    let xml =
        format!("<?xml version=\"1.0\"?><D:multistatus xmlns:D=\"DAV:\">{body}</D:multistatus>");
    format!(
        "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{xml}",
        xml.len()
    )
    .into_bytes()
}

/// F7 of the round-3 mailbox red team: hostile hrefs (`..`, `%00`, another host,
/// a path outside the collection, too deep) are dropped before anything is requested
/// from them; only the collection and its plain outboxes are ever asked for.
#[test]
fn hostile_hrefs_are_filtered_before_any_request() {
    let requested = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = requested.clone();
    let (url, _) = server(move |method, path, w, _| {
        seen.lock().expect("lock").push(format!("{method} {path}"));
        match path {
            "/dav/box/" => {
                let _ = w.write_all(&multistatus(&[
                    "/dav/box/",
                    "/dav/box/x1/",
                    "/dav/box/../",
                    "/dav/box/%2e%2e/",
                    "/dav/box/..%2F..%2Fetc/",
                    "/dav/box/a%00/",
                    "/dav/box/a%0Ab/",
                    "/dav/box/a%5Cb/",
                    "/dav/box/./",
                    "/dav/box//",
                    "/dav/other/",
                    "/dav/boxes/",
                    "http://evil.example/dav/box/x2/",
                    "http://user@127.0.0.1/dav/box/x3/",
                    "/dav/box/x4/?q",
                    "/dav/box/x1/y/z/",
                ]));
            }
            "/dav/box/x1/" => {
                let _ = w.write_all(&multistatus(&[
                    "/dav/box/x1/",
                    "/dav/box/x1/0000000001.cvb",
                    "/dav/box/x1/%00.cvb",
                    "/dav/box/x1/..",
                ]));
            }
            _ => respond(w, "404 Not Found", b""),
        }
    });
    let m = mailbox(&url);
    assert_eq!(m.list().expect("list"), vec!["x1/0000000001.cvb"]);
    assert_eq!(
        *requested.lock().expect("lock"),
        vec!["PROPFIND /dav/box/", "PROPFIND /dav/box/x1/"]
    );
}

/// Red team round 6, L1: a truncated or garbled 207 answer is a typed error, not an
/// empty mailbox.
#[test]
fn a_truncated_listing_is_refused() {
    let (url, _) = server(|method, _, w, _| match method {
        "PROPFIND" => {
            let xml = "<?xml version=\"1.0\"?><D:multistatus xmlns:D=\"DAV:\"><D:response>\
                       <D:href>/dav/box/x1/</D:href></D:resp";
            let _ = write!(
                w,
                "HTTP/1.1 207 Multi-Status\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
        _ => respond(w, "500 Internal Server Error", b""),
    });
    let err = mailbox(&url).list().expect_err("truncated");
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == ErrorKind::InvalidData),
        "{err}"
    );
    assert!(closes_multistatus("<a:multistatus></a:multistatus>"));
    assert!(closes_multistatus("<multistatus>\n</ MULTISTATUS >"));
    assert!(!closes_multistatus("<D:multistatus><D:href>x</D:href>"));
}

/// Red team round 6, L3: a user name HTTP Basic cannot carry, or an empty password,
/// is refused before anything is sent, without echoing the password.
#[test]
fn credentials_basic_cannot_carry_are_refused() {
    for (user, password) in [("te:am", PASSWORD), ("te\nam", PASSWORD), ("team", "")] {
        let err = WebDavMailbox::new(
            "https://cloud.example.org/dav/",
            Some((user.into(), Zeroizing::new(password.to_owned()))),
        )
        .expect_err(user);
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(password.is_empty() || !err.to_string().contains(password));
    }
}
