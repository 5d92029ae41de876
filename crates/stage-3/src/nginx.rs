//! stage-3's `nginx.conf`: `templates/nginx.conf` (read it: it is the
//! lesson), rendered with the stage's addresses.

use cluster::nginx::{Base, Nginx};
use cluster::stage::Instance;

/// The template, named in the rendered file's header comment.
pub const TEMPLATE: &str = "crates/stage-3/templates/nginx.conf";

/// `templates/nginx.conf`'s values.
#[derive(askama::Template)]
#[template(path = "nginx.conf")]
pub struct NginxConf {
    pub base: Base,
    /// Every instance, for the round-robin pool and the backups.
    pub instances: Vec<Upstream>,
    /// The instances whose sessions nginx routes back to them.
    pub tagged: Vec<Upstream>,
}

/// One instance as nginx.conf names it.
pub struct Upstream {
    pub addr: String,
    pub tag: String,
}

/// The whole configuration for `nginx` in `run_dir`.
pub fn render(
    nginx: &Nginx,
    run_dir: &std::path::Path,
    instances: &[Instance],
) -> Result<String, cluster::ClusterError> {
    let up = |i: &Instance| Upstream {
        addr: i.addr.clone(),
        tag: i.tag.clone().unwrap_or_default(),
    };
    cluster::nginx::render(&NginxConf {
        base: appserver::instance::nginx_base("stage-3", TEMPLATE, nginx, run_dir),
        instances: instances.iter().map(up).collect(),
        tagged: instances
            .iter()
            .filter(|i| i.tag.is_some())
            .map(up)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_config_routes_tags_and_falls_back() {
        use testkit::stages::upstream;
        let n = testkit::stages::config_nginx();
        let up = [
            upstream("127.0.0.1:9000", Some("i0")),
            upstream("127.0.0.1:9001", Some("i1")),
        ];
        let c = render(&n, std::path::Path::new("/run/x y"), &up).unwrap();
        testkit::stages::assert_conf_has(
            &c,
            &[
                "upstream pool {\n        server 127.0.0.1:9000 max_fails=1 fail_timeout=1s;\n        server 127.0.0.1:9001 max_fails=1 fail_timeout=1s;\n",
                "upstream fk_i1 {\n        server 127.0.0.1:9001 max_fails=1 fail_timeout=1s;\n        server 127.0.0.1:9000 backup;\n        keepalive 16;",
                "        ~^i0- fk_i0;\n        ~^i1- fk_i1;\n    }",
                "default pool;",
                &format!("listen {} reuseport;", n.addr),
                "proxy_pass http://$fk_upstream;",
                "pid \"/run/x y/nginx.pid\";",
                "worker_processes 2;",
                "client_max_body_size 64k;",
                "keepalive_timeout 5s;",
                "proxy_ignore_client_abort on;",
                "# crates/stage-3/templates/nginx.conf",
            ],
        );
    }
}
