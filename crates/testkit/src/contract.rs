//! The contract suite: every check of the [`contract`] crate (the same
//! ones `loadgen verify` runs before a benchmark), one `#[test]` each, for
//! every stage. A stage joins with one line in its `tests/contract.rs`:
//!
//! ```ignore
//! testkit::contract_suite!(|site: &testkit::Site| testkit::Running::start(BIN, &site.args(&[])));
//! ```
//!
//! Besides the HTTP checks, one check needs the process itself:
//! [`durable_after_sigkill`] (an acknowledged write survives SIGKILL).

use crate::http::{self, form_encode};
use crate::{Running, Site};

/// Users in a contract test site: small enough to seed in a blink.
pub const USERS: u64 = 30;

/// Writes of the `writes` check in the suite: small enough for CI, big
/// enough to race. `FK_CONTRACT_WRITES=1000 cargo test --test contract
/// writes` runs the full-size check.
pub const CONTRACT_WRITES: usize = 200;

/// [`CONTRACT_WRITES`], or `FK_CONTRACT_WRITES` from the environment.
pub fn contract_writes() -> usize {
    std::env::var("FK_CONTRACT_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONTRACT_WRITES)
}

/// Runs contract check `id` against `stage` serving `site`; panics with
/// every failed outcome. If the stage is exempt from the check (`exempt`
/// names it, with the reason), the check must still *fail*: the exemption
/// is a documented limitation, and the day it no longer holds the test says
/// so, instead of hiding a check that would now pass.
pub fn run_check(stage: &Running, site: &Site, id: &str, exempt: &[(&str, &str)]) {
    let check = contract::check(id).unwrap_or_else(|| panic!("no contract check {id:?}"));
    let facts = contract::Site::open(&site.db, Some(&site.photos)).expect("the test site");
    let opts = contract::Options {
        writes: contract_writes(),
        ..contract::Options::default()
    };
    let client = http::Client::new(&stage.addr);
    let report = contract::run(&client, &facts, &opts, |c| c.id == check.id, &mut |o| {
        println!("{o}")
    });
    if let Some((_, why)) = exempt.iter().find(|(e, _)| *e == id) {
        println!("exempt from {id}: {why}");
        assert!(
            !report.passed(),
            "contract check {id} now passes: remove the stage's exemption ({why})"
        );
        return;
    }
    assert!(
        report.passed(),
        "contract check {id} ({}) failed:\n{}",
        check.promise,
        report.failures_text()
    );
    assert!(!report.outcomes.is_empty(), "check {id} recorded nothing");
}

/// Logs in as a seeded user; returns the `sid=…` cookie.
pub fn login(s: &Running, user: &str) -> String {
    let form = format!(
        "username={user}&password={}",
        form_encode(&model::password::seeded_password(user))
    );
    let r = http::Client::new(&s.addr)
        .post_form("/login", &form, None)
        .unwrap_or_else(|e| panic!("login as {user}: {e}"));
    assert_eq!(r.status, 303, "login as {user}: {}", r.text());
    r.cookie("sid").expect("login sets a sid cookie")
}

/// A comment acknowledged with its redirect is still in the database after
/// the stage is killed with SIGKILL right after.
pub fn durable_after_sigkill(s: Running, site: &Site) {
    let cookie = login(&s, "user6");
    let body = format!("durable{}", std::process::id());
    let r = http::Client::new(&s.addr)
        .post_form("/photo/1/comments", &format!("body={body}"), Some(&cookie))
        .expect("post");
    assert_eq!(r.status, 303);
    crate::signal(s.pid(), libc::SIGKILL);
    drop(s);
    let n: i64 = site
        .conn()
        .query_row(
            "SELECT count(*) FROM comments WHERE body = ?1",
            [&body],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1, "the acknowledged comment survived SIGKILL");
}

/// The test names [`contract_suite!`] makes, one per contract check, in
/// the checks' order (a unit test keeps the two lists equal).
pub const SUITE: &[&str] = &[
    "health",
    "pages",
    "photos",
    "statuses",
    "protocol",
    "head",
    "half-close",
    "headers",
    "session",
    "writes",
];

/// One `#[test]` per contract check, plus the SIGKILL durability check,
/// for the stage `$start` launches on a freshly seeded site.
///
/// `contract_suite!(start, exempt = &[("half-close", "why")])` names checks
/// the stage is known to fail, with the reason (see [`run_check`]).
#[macro_export]
macro_rules! contract_suite {
    ($start:expr) => {
        $crate::contract_suite!($start, exempt = &[]);
    };
    ($start:expr, exempt = $exempt:expr) => {
        mod contract {
            #[allow(unused_imports)]
            use super::*;
            fn run(id: &str) {
                let site = $crate::Site::new($crate::contract::USERS);
                let start: fn(&$crate::Site) -> $crate::Running = $start;
                let stage = start(&site);
                let exempt: &[(&str, &str)] = $exempt;
                $crate::contract::run_check(&stage, &site, id, exempt);
            }
            #[test]
            fn health() {
                run("health")
            }
            #[test]
            fn pages() {
                run("pages")
            }
            #[test]
            fn photos() {
                run("photos")
            }
            #[test]
            fn statuses() {
                run("statuses")
            }
            #[test]
            fn protocol() {
                run("protocol")
            }
            #[test]
            fn head() {
                run("head")
            }
            #[test]
            fn half_close() {
                run("half-close")
            }
            #[test]
            fn headers() {
                run("headers")
            }
            #[test]
            fn session() {
                run("session")
            }
            #[test]
            fn writes() {
                run("writes")
            }
            #[test]
            fn acknowledged_write_survives_sigkill() {
                let site = $crate::Site::new($crate::contract::USERS);
                let start: fn(&$crate::Site) -> $crate::Running = $start;
                $crate::contract::durable_after_sigkill(start(&site), &site);
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_suite_has_a_test_per_check() {
        let ids: Vec<&str> = contract::CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            super::SUITE,
            "update contract_suite! and SUITE together"
        );
    }
}
