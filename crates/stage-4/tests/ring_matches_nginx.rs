//! `Ring` against the real thing: two memcached servers behind a real
//! nginx running stage-4's own `nginx.conf` (`hash $memcached_key
//! consistent`, `$uri?$args`). Keys written by this test to the server the
//! ring picks are all found through nginx; the same keys written to the
//! other server are all missed (so the test can fail).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cluster::nginx::{self, Nginx};
use cluster::{RunDir, Supervisor, memcached, ports, probe};
use stage_4::Ring;

/// nginx's escaping of `$memcached_key`, as the app applies it.
use stage_4::keys::escape;

/// The request path whose decoded `$uri` is `key`.
fn url_path(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn set(server: &str, wire_key: &str, value: &str) {
    let mut s = TcpStream::connect(server).unwrap();
    write!(s, "set {wire_key} 0 60 {}\r\n{value}\r\n", value.len()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STORED\r\n", "set {wire_key}");
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn the_ring_places_every_key_where_nginx_looks_for_it() {
    if !testkit::require_tool("nginx", nginx::INSTALL)
        || !testkit::require_tool("memcached", memcached::INSTALL)
    {
        return;
    }
    let mut sup = Supervisor::new();
    let bin = memcached::find("memcached".as_ref()).unwrap();
    let mut servers = Vec::new();
    for i in 0..2 {
        let addr = SocketAddr::from((
            [127, 0, 0, 1],
            ports::free_port([127, 0, 0, 1].into()).unwrap(),
        ));
        let opts = memcached::Options {
            memory_mb: 16,
            threads: 1,
            max_conns: 256,
        };
        let h = sup
            .start(memcached::spec(&format!("mc{i}"), &bin, addr, &opts))
            .unwrap();
        let a = addr.to_string();
        sup.wait_ready(&h, Duration::from_secs(10), || async {
            probe::memcached_version(&a, Duration::from_secs(1))
                .await
                .map(|_| ())
        })
        .await
        .unwrap();
        servers.push(a);
    }
    let nginx = Nginx::new("nginx".as_ref(), "127.0.0.1:0".parse().unwrap(), 1).unwrap();
    let run = RunDir::new(None, "flickrkillr-ring-test-").unwrap();
    // The app upstream answers /healthz (the readiness probe) and nothing
    // else: a miss falls through to it and is no 200.
    let app = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app_addr = app.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in app.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let ok = buf[..n].starts_with(b"GET /healthz ");
            let reply: &[u8] = if ok {
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = s.write_all(reply);
        }
    });
    let text = stage_4::nginx::render(
        &nginx,
        run.path(),
        &[testkit::stages::upstream(&app_addr, None)],
        servers.clone(),
        "",
    )
    .unwrap();
    let conf = run.write("nginx.conf", &text).unwrap();
    let h = sup.start(nginx.spec(run.path(), &conf)).unwrap();
    let addr = nginx.addr.to_string();
    sup.wait_ready(&h, Duration::from_secs(10), || {
        probe::http_ok(&addr, "/healthz", Duration::from_secs(1))
    })
    .await
    .unwrap();

    let ring = Ring::new(&servers);
    // Plain keys, and keys nginx must escape (space, %, a tab): placed by
    // their raw form, sent in their escaped form.
    // Each is a path as nginx decodes it, and the key `$uri?$args` (no query).
    let paths: Vec<String> = (0..300)
        .map(|i| match i % 4 {
            0 => format!("/user/user{i}"),
            1 => format!("/a b/{i}"),
            2 => format!("/100%/{i}"),
            _ => format!("/tab\t{i}"),
        })
        .collect();
    let key = |path: &str| format!("{path}?");
    let (mut found, mut on) = (0, [0usize; 2]);
    for (i, p) in paths.iter().enumerate() {
        let k = key(p);
        let home = ring.route(k.as_bytes());
        assert_eq!(ring.route_wire(escape(&k).as_bytes()), home);
        on[home] += 1;
        set(&servers[home], &escape(&k), &format!("v{i}"));
        let (status, body) = get(&addr, &url_path(p));
        if status == 200 && body == format!("v{i}") {
            found += 1;
        }
    }
    // The same keys, now also written to the wrong server only.
    let mut wrong_found = 0;
    for (i, p) in paths.iter().enumerate() {
        let wrong = format!("{p}-wrong");
        let other = 1 - ring.route(key(&wrong).as_bytes());
        set(&servers[other], &escape(&key(&wrong)), &format!("w{i}"));
        if get(&addr, &url_path(&wrong)).0 == 200 {
            wrong_found += 1;
        }
    }
    sup.shutdown().await;
    eprintln!(
        "{found}/{} found (placed {on:?}); {wrong_found} found when misplaced",
        paths.len()
    );
    assert!(on[0] > 50 && on[1] > 50, "both servers used: {on:?}");
    assert_eq!(found, paths.len(), "every key found where the ring put it");
    assert_eq!(wrong_found, 0, "misplaced keys are never found");
}
