//! Whose a sample is: the row's pid → role map, and the processes it does
//! not name reached through perf's FORK events.

use std::collections::HashMap;

use runfiles::cpu::{CpuReport, Role};

use super::Error;

/// The row's processes and their roles (the roles cpuwatch gave them).
#[derive(Debug, Clone, Default)]
pub struct RoleMap {
    roles: HashMap<u32, Role>,
}

impl RoleMap {
    /// From `(pid, role)` pairs.
    pub fn new(pairs: impl IntoIterator<Item = (u32, Role)>) -> RoleMap {
        RoleMap {
            roles: pairs.into_iter().collect(),
        }
    }

    /// From a cpuwatch file (`flickrkillr-cpu/1`) of the profiled window:
    /// its `processes` but the load tool's, and but the `reaped` lines
    /// (their pid is the parent's).
    pub fn from_cpu_json(text: &str) -> Result<RoleMap, Error> {
        let report: CpuReport =
            serde_json::from_str(text).map_err(|e| Error::CpuJson(e.to_string()))?;
        Ok(RoleMap::new(
            report
                .processes
                .iter()
                .filter(|p| !p.reaped && p.role.is_server())
                .map(|p| (p.pid, p.role)),
        ))
    }

    /// The role of `pid`: the map's, else its parent's (through `forks`,
    /// child → parent), where a child of a CGI host is a CGI program;
    /// `None` for a process outside the row.
    pub fn resolve(&self, pid: u32, forks: &HashMap<u32, u32>) -> Option<Role> {
        let mut p = pid;
        // (Bounded: a cycle in broken input must not hang us.)
        for depth in 0..64 {
            if let Some(&role) = self.roles.get(&p) {
                return Some(if depth > 0 {
                    role.reaped_children()
                } else {
                    role
                });
            }
            p = *forks.get(&p)?;
            if p == 0 {
                return None;
            }
        }
        None
    }
}

/// `… PERF_RECORD_FORK(CHILD:tid):(PARENT:tid)` → (CHILD, PARENT) when the
/// child is a new process (not a new thread of the same one).
pub fn fork_event(line: &str) -> Option<(u32, u32)> {
    let rest = line.split_once("PERF_RECORD_FORK(")?.1;
    let (child, rest) = rest.split_once(':')?;
    let parent = rest.split_once(":(")?.1.split_once(':')?.0;
    let (child, parent) = (child.trim().parse().ok()?, parent.trim().parse().ok()?);
    (child != parent).then_some((child, parent))
}
