//! What the supervisor forwards to its instances reaches them: stage-4's
//! cache options round-trip through their command line, and the CPython
//! instance (`fk_serve.py`) reads every forwarded setting, the ones
//! `InstanceCommand::python` adds included, as the values the stage was
//! given.

use appserver::ServeArgs;
use appserver::instance::INSTANCE_ENV;
use cluster::stage::InstanceCommand;
use stage_4::CacheArgs;

/// Every field away from its default.
fn cache_args() -> CacheArgs {
    CacheArgs {
        page_ttl: 301,
        photo_ttl: 4321,
    }
}

#[test]
fn cache_args_round_trip_through_their_command_line() {
    let a = cache_args();
    testkit::settings::assert_round_trips(&a, &a.to_args());
}

/// Every field the CPython peer takes away from its default (it has the
/// real GIL, so neither `--gil` nor `--python-factor`).
fn serve_args() -> ServeArgs {
    ServeArgs {
        db: "/srv/fk/site.db".into(),
        photos: Some("/srv/fk/pool".into()),
        threads: 7,
        gil: false,
        python_factor: 1,
        session_ttl: 1234,
        secure_cookies: true,
    }
}

/// `fk_serve.py`'s own parser, run by the peer's interpreter on `argv`:
/// the settings it would serve with, as JSON.
fn python_reads(argv: &[std::ffi::OsString]) -> serde_json::Value {
    let peer = testkit::python::peer();
    let out = std::process::Command::new(&peer.python)
        .arg("-c")
        .arg(
            "import json, sys\n\
             sys.path.insert(0, sys.argv[1])\n\
             import fk_serve\n\
             print(json.dumps(vars(fk_serve.parse_args(sys.argv[2:]))))",
        )
        .arg(&peer.dir)
        .args(argv)
        .output()
        .expect("run the peer's python");
    assert!(
        out.status.success(),
        "fk_serve.py refused {argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_cpython_instance_reads_every_forwarded_setting() {
    let (serve, cache) = (serve_args(), cache_args());
    for (design, sessions, memcached) in [
        ("python-3", "memory", None),
        (
            "python-4",
            "memcached",
            Some("127.0.0.1:21211,127.0.0.1:21212"),
        ),
    ] {
        let mut options = serve.to_args();
        if let Some(m) = memcached {
            options.extend(cache.to_args());
            options.extend(["--memcached".into(), m.into()]);
        }
        let cmd = InstanceCommand::python(
            &testkit::python::peer(),
            design,
            sessions,
            options,
            serve.gil,
            INSTANCE_ENV,
        )
        .unwrap();
        // As the supervisor starts it (`cluster::stage::start_local_instances`).
        let mut argv: Vec<std::ffi::OsString> = vec![
            "--listen-fd".into(),
            "3".into(),
            "--tag".into(),
            "i7".into(),
        ];
        argv.extend(cmd.options.iter().cloned());
        let got = python_reads(&argv);
        let mut want = serde_json::json!({
            "db": "/srv/fk/site.db",
            "photos": "/srv/fk/pool",
            "threads": 7,
            "session_ttl": 1234,
            "secure_cookies": true,
            "sessions": sessions,
            "served_by": design,
            "tag": "i7",
            "listen_fd": 3,
        });
        if memcached.is_some() {
            want["page_ttl"] = 301.into();
            want["photo_ttl"] = 4321.into();
            want["memcached"] = serde_json::json!(["127.0.0.1:21211", "127.0.0.1:21212"]);
        }
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(
                &got[k], v,
                "{design}: fk_serve.py read {k} as {}: {got}",
                got[k]
            );
        }
    }
}
