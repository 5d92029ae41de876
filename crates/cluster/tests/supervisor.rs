//! The supervisor with plain shell children: restarts with backoff, a
//! start-up failure is reported (not restarted), a child that ignores its
//! stop signal is killed after the grace period.

use std::time::{Duration, Instant};

use cluster::{ChildSpec, ClusterError, Supervisor};

fn sh(name: &str, script: &str) -> ChildSpec {
    ChildSpec::new(name, "/bin/sh").arg("-c").arg(script)
}

async fn ready(_: ()) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn a_crashed_child_is_restarted_with_backoff() {
    let mut sup = Supervisor::new();
    let h = sup.start(sh("crasher", "sleep 0.2; exit 3")).unwrap();
    sup.wait_ready(&h, Duration::from_secs(5), || ready(()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Runs of 0.2 s separated by 0.1, 0.2, 0.4, 0.8 s of backoff: about 4
    // starts in 1.5 s; without backoff there would be 7.
    let n = h.starts();
    assert!((3..=5).contains(&n), "{n} starts in 1.5 s");
    sup.shutdown().await;
}

#[tokio::test]
async fn a_child_that_dies_before_it_is_ready_is_a_start_up_failure() {
    let mut sup = Supervisor::new();
    let h = sup
        .start(sh("broken", "echo 'cannot open the database' >&2; exit 7"))
        .unwrap();
    let t = Instant::now();
    let e = sup
        .wait_ready(&h, Duration::from_secs(10), || async {
            Err::<(), _>("not yet".to_string())
        })
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "reported at once, not after the timeout"
    );
    match e {
        ClusterError::DiedStarting { name, status } => {
            assert_eq!(name, "broken");
            assert_eq!(status, "exit status 7");
        }
        other => panic!("{other}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.starts(), 1, "not restarted");
    sup.shutdown().await;
}

#[tokio::test]
async fn a_child_ignoring_its_stop_signal_is_killed_after_the_grace_period() {
    let mut sup = Supervisor::new();
    let spec = sh("stubborn", "trap '' TERM; sleep 30")
        .stop_with(libc::SIGTERM, Duration::from_millis(300));
    let h = sup.start(spec).unwrap();
    sup.wait_ready(&h, Duration::from_secs(5), || ready(()))
        .await
        .unwrap();
    let pid = h.pid().unwrap();
    let t = Instant::now();
    sup.shutdown().await;
    assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(3));
    assert!(!cluster::process::alive(pid));
    assert!(h.pid().is_none());
}

#[tokio::test]
async fn shutdown_reaches_the_whole_process_group() {
    let mut sup = Supervisor::new();
    // The shell's own child (sleep) is a grandchild of the supervisor.
    let h = sup.start(sh("parent", "sleep 30 & wait")).unwrap();
    sup.wait_ready(&h, Duration::from_secs(5), || ready(()))
        .await
        .unwrap();
    let pid = h.pid().unwrap();
    assert!(cluster::process::descendants(std::process::id()).contains(&pid));
    let mut family = Vec::new();
    for _ in 0..100 {
        family = cluster::process::descendants(pid);
        if !family.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(family.len(), 1, "the shell's sleep");
    sup.shutdown().await;
    assert!(!cluster::process::alive(pid));
    // The group got SIGKILL; give the kernel a moment to deliver it.
    let mut gone = false;
    for _ in 0..200 {
        gone = !cluster::process::alive(family[0]);
        if gone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the grandchild was stopped with its group");
}

/// A stderr nobody reads (a pipe left full, a terminal paused with Ctrl-S)
/// never stalls the supervisor: a crashed child is still restarted, and
/// shutdown still finishes in time, while a chatty child keeps printing.
#[tokio::test]
async fn a_stuck_stderr_stalls_neither_restarts_nor_shutdown() {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut sup = Supervisor::with_logs(cluster::logs::LogSink::to(Box::new(writer)));
    let chatty = sup
        .start(sh(
            "chatty",
            "while :; do echo 'a line of log output that nobody reads'; done",
        ))
        .unwrap();
    let crasher = sup.start(sh("crasher", "sleep 0.2; exit 3")).unwrap();
    for h in [&chatty, &crasher] {
        sup.wait_ready(h, Duration::from_secs(5), || ready(()))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n = crasher.starts();
    assert!(n >= 3, "{n} starts in 1.5 s: restarts waited for stderr");
    let t = Instant::now();
    sup.shutdown().await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    drop(reader);
}
