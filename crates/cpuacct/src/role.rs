//! What a process is in a benchmark run, decided from its name, its
//! arguments and its parent (the rules are in the crate docs, in the order
//! [`classify`] applies them).

pub use runfiles::cpu::Role;

/// The last path component: `/srv/fk/target/release/stage-2` → `stage-2`.
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The role of a process, from its `comm`, its arguments (empty for a
/// zombie, whose `comm` is all that is left), its parent's role and
/// whether it descends from the measured command. The rules, first match
/// wins:
///
/// 1. the command cpuwatch runs and its descendants → `load`;
/// 2. a child of a `cgi-host` or of `lighttpd` → `cgi` (they start
///    nothing else; a child between fork and exec still has its parent's
///    name, and is a CGI program a moment later);
/// 3. named (`comm` or argv[0]'s last component) `nginx` (also nginx's
///    rewritten title `nginx: worker process`) → `nginx`; `memcached` →
///    `memcached`; `lighttpd` → `lighttpd`;
/// 4. `stage-1-cgi`, or any name ending in `.cgi` → `cgi`;
/// 5. `stage-1` → `cgi-host`; `stage-2` → `app`; `stage-N` (N ≥ 3) whose
///    first argument is `instance` → `app`, otherwise → `supervisor`;
/// 6. a name starting with `python` with an argument whose last component
///    is `fk_serve.py` → `app` (the CPython app server);
/// 7. anything else → `other`.
pub fn classify(comm: &str, argv: &[String], parent: Option<Role>, in_load: bool) -> Role {
    if in_load {
        return Role::Load;
    }
    if matches!(parent, Some(Role::CgiHost | Role::Lighttpd)) {
        return Role::Cgi;
    }
    let arg0 = argv.first().map(|a| base(a)).unwrap_or("");
    let names = [comm, arg0];
    let named = |n: &str| names.contains(&n);
    if named("nginx") || arg0.starts_with("nginx:") {
        return Role::Nginx;
    }
    if named("memcached") {
        return Role::Memcached;
    }
    if named("lighttpd") {
        return Role::Lighttpd;
    }
    if named("stage-1-cgi") || names.iter().any(|n| n.ends_with(".cgi")) {
        return Role::Cgi;
    }
    for n in names {
        let Some(stage) = n.strip_prefix("stage-").and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        return match stage {
            1 => Role::CgiHost,
            2 => Role::App,
            _ if argv.get(1).map(String::as_str) == Some("instance") => Role::App,
            _ => Role::Supervisor,
        };
    }
    if names.iter().any(|n| n.starts_with("python"))
        && argv.iter().skip(1).any(|a| base(a) == "fk_serve.py")
    {
        return Role::App;
    }
    Role::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    fn role(comm: &str, args: &str) -> Role {
        classify(comm, &argv(args), None, false)
    }

    #[test]
    fn ids_are_the_json_keys() {
        let json = serde_json::to_string(&Role::ALL).unwrap();
        let ids: Vec<String> = Role::ALL
            .iter()
            .map(|r| format!("\"{}\"", r.id()))
            .collect();
        assert_eq!(json, format!("[{}]", ids.join(",")));
        assert_eq!(Role::CgiHost.to_string(), "cgi-host");
        assert!(!Role::Load.is_server() && Role::Nginx.is_server());
    }

    #[test]
    fn the_stages() {
        assert_eq!(
            role("stage-1", "/r/target/release/stage-1 --db x"),
            Role::CgiHost
        );
        assert_eq!(
            role("stage-1-cgi", "/r/target/release/stage-1-cgi"),
            Role::Cgi
        );
        assert_eq!(role("stage-2", "target/release/stage-2 --gil"), Role::App);
        assert_eq!(
            role("stage-3", "/r/stage-3 --instances 2 --db x"),
            Role::Supervisor
        );
        assert_eq!(
            role("stage-3", "/r/stage-3 instance --listen-fd 5 --tag i0"),
            Role::App
        );
        assert_eq!(
            role("stage-4", "/r/stage-4 instance --listen-fd 7"),
            Role::App
        );
        assert_eq!(
            role("stage-4", "/r/stage-4 --instances 2"),
            Role::Supervisor
        );
        // An argument called "instance" further on does not make an instance.
        assert_eq!(
            role("stage-4", "/r/stage-4 --tag instance"),
            Role::Supervisor
        );
    }

    #[test]
    fn nginx_memcached_lighttpd() {
        assert_eq!(
            role("nginx", "nginx: master process /usr/sbin/nginx -p x"),
            Role::Nginx
        );
        assert_eq!(role("nginx", "nginx: worker process"), Role::Nginx);
        // comm is what counts when nginx's title says something else.
        assert_eq!(role("nginx", "whatever"), Role::Nginx);
        assert_eq!(
            role("memcached", "/usr/bin/memcached -l 127.0.0.1 -p 0"),
            Role::Memcached
        );
        assert_eq!(
            role("lighttpd", "/usr/sbin/lighttpd -D -f x"),
            Role::Lighttpd
        );
    }

    #[test]
    fn cgi_children_by_parent_and_name() {
        // lighttpd runs the program through a symlink: comm is its name.
        assert_eq!(
            classify(
                "flickrkillr.cgi",
                &argv("/srv/www/flickrkillr.cgi"),
                Some(Role::Lighttpd),
                false
            ),
            Role::Cgi
        );
        // Forked by the host, not exec'd yet: still called stage-1.
        assert_eq!(
            classify(
                "stage-1",
                &argv("/r/stage-1 --db x"),
                Some(Role::CgiHost),
                false
            ),
            Role::Cgi
        );
        assert_eq!(role("x.cgi", "/a/x.cgi"), Role::Cgi);
        // A zombie has no argv: comm decides.
        assert_eq!(
            classify("stage-1-cgi", &[], Some(Role::Other), false),
            Role::Cgi
        );
        assert_eq!(classify("stage-2", &[], None, false), Role::App);
    }

    #[test]
    fn cpython_app_server() {
        assert_eq!(
            role(
                "python3",
                "/usr/bin/python3 /srv/fk/py/fk_serve.py --listen-fd 5"
            ),
            Role::App
        );
        assert_eq!(role("python3.11", "python3.11 -u fk_serve.py"), Role::App);
        assert_eq!(role("python3", "python3 -m http.server"), Role::Other);
        // The script's name alone, without python, is not enough.
        assert_eq!(role("sh", "sh -c fk_serve.py"), Role::Other);
    }

    #[test]
    fn load_wins_and_everything_else_is_other() {
        assert_eq!(
            classify("nginx", &argv("nginx"), Some(Role::CgiHost), true),
            Role::Load,
            "the measured command's tree is load, whatever it is called"
        );
        assert_eq!(role("bash", "/bin/bash scripts/compare.sh"), Role::Other);
        assert_eq!(
            role("hyper-hello", "target/release/hyper-hello --bytes 5"),
            Role::Other
        );
        assert_eq!(role("stage-x", "stage-x"), Role::Other);
        assert_eq!(role("", ""), Role::Other);
    }

    #[test]
    fn reaped_children_roles() {
        assert_eq!(Role::CgiHost.reaped_children(), Role::Cgi);
        assert_eq!(Role::Lighttpd.reaped_children(), Role::Cgi);
        assert_eq!(Role::Load.reaped_children(), Role::Load);
        assert_eq!(Role::Supervisor.reaped_children(), Role::Supervisor);
    }
}
