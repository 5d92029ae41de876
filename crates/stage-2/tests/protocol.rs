//! Bad and slow clients at the protocol level: each gets a 4xx or a correct
//! answer, never a hang, a crash or a starved neighbour.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stage-2");

fn read_all(mut c: TcpStream, wait: Duration) -> String {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn pipelining_http10_and_odd_methods() {
    let site = testkit::Site::new(5);
    let s = testkit::Running::start(BIN, &site.args(&[]));
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /user/user1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let out = read_all(c, Duration::from_secs(10));
    assert_eq!(
        out.matches("HTTP/1.1 200 OK").count(),
        2,
        "two pipelined answers: {out:.200}"
    );

    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    assert!(
        read_all(c, Duration::from_secs(10)).starts_with("HTTP/1.0 200"),
        "HTTP/1.0 without Host"
    );

    for bad in [
        &b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.write_all(bad).unwrap();
        let out = read_all(c, Duration::from_secs(10));
        let status: u16 = out.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
        assert!(
            out.is_empty() || (400..500).contains(&status),
            "{bad:?} → {out:.80}"
        );
    }
    assert_eq!(s.get("/healthz").status, 200);
}

#[test]
fn slow_clients_are_cut_off_and_starve_no_one() {
    let site = testkit::Site::new(5);
    let s = testkit::Running::start(BIN, &site.args(&[]));
    // 64 connections trickle half a request head and stall.
    let trickle: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    // One announces a body it never finishes.
    let mut short = TcpStream::connect(&s.addr).unwrap();
    short
        .write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=")
        .unwrap();
    // Everyone else is served at once.
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(s.get("/user/user2").status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a normal client waited {:?}",
            t.elapsed()
        );
    }
    // After the timeouts (web::HEADER_READ_TIMEOUT, web::BODY_READ_TIMEOUT = 10 s)
    // the stalled connections are closed, the short body answered 408.
    let out = read_all(short, Duration::from_secs(20));
    assert!(out.starts_with("HTTP/1.1 408"), "short body: {out:.80}");
    for c in trickle {
        let t = Instant::now();
        let out = read_all(c, Duration::from_secs(20));
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "trickling connection still open"
        );
        assert!(
            out.is_empty() || out.starts_with("HTTP/1.1 408"),
            "{out:.80}"
        );
    }
    assert_eq!(s.get("/healthz").status, 200);
}

/// A client that sends a complete request and then shuts down its sending
/// side (`nc -N`, some HTTP/1.0 clients and proxies) gets its answer even
/// when the page takes time: here a user page on a database without its
/// index, a scan of every photo (hyper's default dropped the answer as soon
/// as it read the client's EOF).
#[test]
fn a_half_closed_client_still_gets_a_slow_page() {
    let site = testkit::Site::with(10_000, false);
    let s = testkit::Running::start(BIN, &site.args(&[]));
    let client = http_client::Client::new(&s.addr);
    let req = http_client::request_bytes("GET", "/user/user9999", &s.addr, &[], b"");
    let t = Instant::now();
    let r = client.raw_half_closed(&req, false).expect("an answer");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("user9999"));
    eprintln!(
        "slow page answered to a half-closed client in {:?}",
        t.elapsed()
    );
}
