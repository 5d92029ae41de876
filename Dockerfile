# FlickrKillr in a container: every stage, tool and data set of the
# workshop, for any laptop with docker or podman (scripts/container.sh
# builds and runs it; README.md "In a container").
#
#   build    Debian 12 with Rust from Debian's own packages (rustc-web,
#            cargo-web: 1.96 from bookworm-security; the workspace needs
#            rust-version 1.85, edition 2024), the release binaries
#   data     the seeded databases, made by the release `seed`
#   runtime  the binaries, nginx, memcached, lighttpd, ab, wrk, sqlite3,
#            curl, nc, python3 and the CPython peer's pinned venv, the data
#            sets: `scripts/lesson.sh N` and `scripts/compare.sh` run as on
#            a Debian machine, without cargo (FK_PREBUILT=1)
#
# The base is a build argument: any Debian 12 image whose apt sources
# include bookworm-security (debian:bookworm-slim does).
ARG BASE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------
FROM ${BASE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      rustc-web cargo-web gcc libc6-dev ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
# The toolchain must meet the workspace's rust-version (Cargo.toml); cargo
# would refuse anyway, this says why in one line.
COPY Cargo.toml /tmp/Cargo.toml
RUN want=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' /tmp/Cargo.toml) \
 && have=$(rustc --version | cut -d' ' -f2) \
 && echo "rustc $have (the workspace needs $want)" \
 && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" = "$want" ] \
 || { echo "rustc $have is older than the workspace's rust-version $want" >&2; exit 1; }

ENV CARGO_HOME=/cargo
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The registry and target/ are cache mounts: a rebuild after a source
# change recompiles only what changed. The binaries are copied out of the
# cache into /out, which the next stages take. The one cargo command
# compare.sh runs (another set of packages would unify features
# differently and make other binaries than a native run measures).
RUN --mount=type=cache,target=/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && mkdir -p /out \
 && find target/release -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \; \
 && ls /out

# ---- data -------------------------------------------------------------------
# The databases scripts/compare.sh reuses (data/flickrkillr-USERS[-noindex].db,
# the photo pool in data/photos): 2,000 users for the lessons, 100,000 (the
# talk's size) for lesson 6 and the main job. The same parameters as
# compare.sh's seed_db, so it finds them and seeds nothing.
FROM ${BASE} AS data
COPY --from=build /out/seed /usr/local/bin/seed
RUN mkdir -p /data \
 && for users in 2000 100000; do \
      seed --users "$users" --out "/data/flickrkillr-$users.db" --photos-dir /data/photos --force | tail -n 1 \
   && seed --users "$users" --out "/data/flickrkillr-$users-noindex.db" --photos-dir /data/photos --force --no-index | tail -n 1 \
   || exit 1; \
    done

# ---- runtime ------------------------------------------------------------------
FROM ${BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# The packages would start nginx/lighttpd/memcached services at install
# time; the stages start their own, so policy-rc.d says no (as setup.sh).
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      nginx memcached lighttpd apache2-utils wrk sqlite3 curl netcat-openbsd \
      python3 python3-venv ca-certificates procps hostname tini >/dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d

WORKDIR /flickrkillr
# The CPython peer's virtual environment, from the pinned requirements,
# with the stamp scripts/setup.sh checks (so it makes nothing again).
COPY peers/python/requirements.txt peers/python/requirements.txt
RUN python3 -m venv peers/python/.venv \
 && peers/python/.venv/bin/pip install --quiet --disable-pip-version-check --no-input \
      -r peers/python/requirements.txt \
 && sha256sum peers/python/requirements.txt | cut -d' ' -f1 > peers/python/.venv/.requirements.sha256

COPY --from=data /data data
COPY --from=build /out target/release
# The sources too: compare.sh reads two constants from them, and a lesson's
# reader may want to look.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY peers/python peers/python
COPY scripts scripts
# lesson.sh and compare.sh build nothing (there is no cargo here): they
# take the binaries in target/release.
ENV FK_PREBUILT=1
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bash"]
