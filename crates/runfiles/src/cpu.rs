//! cpuwatch's result file (`flickrkillr-cpu/1`): which role of the run
//! spent how much CPU in the measured window. The keys and the rules that
//! decide a process's role are described in the `cpuacct` crate's docs.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies the JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "flickrkillr-cpu/1";

/// One cpuwatch run's figures: the JSON file (see the crate docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuReport {
    pub schema: String,
    pub window_s: f64,
    pub cores: usize,
    pub ticks_per_s: u64,
    pub machine_busy_s: f64,
    pub machine_idle_s: f64,
    pub machine_irq_s: f64,
    pub machine_steal_s: f64,
    pub outside_trees_s: f64,
    pub roles: BTreeMap<Role, f64>,
    pub processes: Vec<ProcessCpu>,
    pub lost_processes: Vec<LostProcess>,
    pub command: Vec<String>,
    pub delay_s: f64,
}

impl CpuReport {
    /// A role's CPU seconds (0 when absent).
    pub fn role(&self, role: Role) -> f64 {
        self.roles.get(&role).copied().unwrap_or(0.0)
    }

    /// Σ roles: every CPU second charged to a process of the trees.
    pub fn charged_s(&self) -> f64 {
        self.roles.values().sum()
    }

    /// Σ roles but `load`: what the server under test spent.
    pub fn server_s(&self) -> f64 {
        self.roles
            .iter()
            .filter(|(r, _)| r.is_server())
            .map(|(_, s)| s)
            .sum()
    }
}

/// One line of `processes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCpu {
    pub pid: u32,
    pub role: Role,
    pub comm: String,
    pub cpu_s: f64,
    /// The CPU of children this process waited for (pid and comm are the
    /// parent's, role the children's).
    pub reaped: bool,
}

/// One line of `lost_processes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostProcess {
    pub pid: u32,
    pub role: Role,
    pub comm: String,
}

/// What a process does for the run; every process of the measured trees is
/// charged to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The load tool cpuwatch runs (loadgen, wrk, ab) and its children.
    Load,
    Nginx,
    Memcached,
    /// An app-server process: `stage-2`, `stage-N instance …`, a CPython
    /// `… fk_serve.py …`.
    App,
    /// The main process of stage-3/4: starts and restarts the others.
    Supervisor,
    /// stage-1's main process: accepts connections, starts a CGI program
    /// per request.
    CgiHost,
    /// The CGI programs, mostly counted through the host that reaps them.
    Cgi,
    Lighttpd,
    /// Anything else in the trees (a shell, `cargo`, hyper's hello example).
    Other,
}

impl Role {
    /// Every role, in the JSON's and the report's order.
    pub const ALL: [Role; 9] = [
        Role::Load,
        Role::Nginx,
        Role::Memcached,
        Role::App,
        Role::Supervisor,
        Role::CgiHost,
        Role::Cgi,
        Role::Lighttpd,
        Role::Other,
    ];

    /// The JSON key: `load`, `cgi-host`, …
    pub fn id(self) -> &'static str {
        match self {
            Role::Load => "load",
            Role::Nginx => "nginx",
            Role::Memcached => "memcached",
            Role::App => "app",
            Role::Supervisor => "supervisor",
            Role::CgiHost => "cgi-host",
            Role::Cgi => "cgi",
            Role::Lighttpd => "lighttpd",
            Role::Other => "other",
        }
    }

    /// Part of the server under test: every role but the load tool.
    pub fn is_server(self) -> bool {
        self != Role::Load
    }

    /// The role of the children a process of this role waits for, whose
    /// CPU only shows up in its cutime + cstime: a CGI host's and
    /// lighttpd's children are CGI programs; anyone else's are charged to
    /// the parent's own role (the load tool's to `load`; a supervisor's
    /// crashed instance to `supervisor`, which is wrong but rare and
    /// visible in the process list).
    pub fn reaped_children(self) -> Role {
        match self {
            Role::CgiHost | Role::Lighttpd => Role::Cgi,
            r => r,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
