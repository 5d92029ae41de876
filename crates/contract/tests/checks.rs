//! The checks against the real app (in this process, stage-2's
//! composition): every one passes; and against the same app with faults
//! put in on purpose, the right ones fail — so a green `verify` means
//! something.

use testkit::inproc::{self, Faults};

fn run(site: &testkit::Site, server: &inproc::InProc) -> contract::Report {
    let facts = contract::Site::open(&site.db, Some(&site.photos)).unwrap();
    let client = contract::Client::new(&server.addr);
    let opts = contract::Options {
        writes: 16,
        ..Default::default()
    };
    contract::run(&client, &facts, &opts, |_| true, &mut |_| {})
}

#[test]
fn the_app_passes_every_check() {
    let site = testkit::Site::new(30);
    let server = inproc::serve(&site, Faults::default());
    let report = run(&site, &server);
    assert!(report.passed(), "{}", report.failures_text());
    for c in contract::CHECKS {
        assert!(
            report.outcomes.iter().any(|o| o.check == c.id),
            "check {} recorded nothing",
            c.id
        );
    }
    assert!(
        report.outcomes.len() >= 70,
        "{} outcomes",
        report.outcomes.len()
    );
    // The session check's write is in the database, marker escaped on the page.
    let body: String = site
        .conn()
        .query_row(
            "SELECT body FROM comments WHERE body LIKE 'contract-%' ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(body.contains("<script>") && body.contains("日本"), "{body}");
}

#[test]
fn a_broken_server_fails_the_right_checks() {
    let site = testkit::Site::new(30);
    let faults = Faults {
        no_charset: true,
        lenient_page: true,
        lose_writes: true,
    };
    let server = inproc::serve(&site, faults);
    let report = run(&site, &server);
    assert!(!report.passed());
    let failed: Vec<String> = report
        .failures()
        .map(|o| format!("{} {o}", o.check))
        .collect();
    let any = |s: &str| failed.iter().any(|f| f.contains(s));
    assert!(any("charset=utf-8"), "{failed:#?}");
    assert!(any("page=0"), "{failed:#?}");
    assert!(any("does not write"), "{failed:#?}");
    assert!(any("new rows in the database"), "{failed:#?}");
}

#[test]
fn nothing_listening_stops_the_run_after_health() {
    let site = testkit::Site::new(5);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let facts = contract::Site::open(&site.db, None).unwrap();
    let client = contract::Client::new(&format!("127.0.0.1:{port}"));
    let report = contract::run(
        &client,
        &facts,
        &contract::Options::default(),
        |_| true,
        &mut |_| {},
    );
    assert_eq!(report.outcomes.len(), 1, "{:?}", report.outcomes);
    assert!(!report.passed());
}
