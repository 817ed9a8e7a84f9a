//! A PostgreSQL server of this test process's own, for when `TALLY_TEST_POSTGRES_URL` is not
//! set: started once, on the first PostgreSQL test, from the server binaries found by the rule
//! `build.rs` also applies (`initdb` and `postgres` on `PATH`, else the highest version under
//! `/usr/lib/postgresql/*/bin`).
//!
//! Lifecycle: `initdb` makes a cluster in a fresh temporary folder (as the `postgres` user when
//! this process runs as root: initdb refuses root), then a small supervising shell, in a process
//! group of its own so that Ctrl-C reaches only the test process, starts `postgres` on a free
//! port of 127.0.0.1, with its socket in that folder and durability off (`fsync`,
//! `synchronous_commit`, `full_page_writes`). The test process waits until it accepts
//! connections by polling, with a deadline. The shell's stdin is a pipe whose only writer this
//! process holds, in a static, and never writes: when the process exits, however it exits
//! (libtest runs no destructors of statics), the kernel closes it, and the shell stops the
//! server (SIGQUIT: immediate shutdown, nothing to keep), waits for it, and removes the folder.

#[cfg(unix)]
mod server {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use sqlx::Connection;

    use crate::support::held_port::HeldPort;

    /// Enough for many tests at once, each opening a few pools (an app holds about ten
    /// connections, a multi-node test three times that).
    const MAX_CONNECTIONS: u32 = 500;
    /// How long the server may take to accept connections.
    const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

    /// Runs as the user that owns the folder. `$1` is the `postgres` binary, `$2` the folder,
    /// `$3` the port; the rest are server settings. A server that stops on its own (the test
    /// process is then still alive) leaves an `exited` marker and its log for the test process
    /// to report, and the folder is removed once that process exits.
    const SUPERVISOR: &str = r#"
        postgres=$1 folder=$2 port=$3
        shift 3
        exec 3<&0 </dev/null
        "$postgres" -D "$folder/data" -k "$folder" -p "$port" "$@" >"$folder/server.log" 2>&1 3<&- &
        server=$!
        ( cat <&3 >/dev/null; touch "$folder/stopping"; kill -QUIT "$server" 2>/dev/null ) &
        watcher=$!
        wait "$server"
        if [ ! -e "$folder/stopping" ]; then
            touch "$folder/exited"
            kill "$watcher" 2>/dev/null
            cat <&3 >/dev/null
        fi
        rm -rf "$folder"
    "#;

    /// A running throwaway server; stopped and removed when dropped.
    pub struct Server {
        pub url: String,
        /// Never written: closing it stops the server (see the module's doc).
        _lifeline: ChildStdin,
        _supervisor: Child,
        _port: HeldPort,
    }

    /// The admin URL of the throwaway server, started on the first call; `None` when no
    /// server binaries were found, an error when they were and the server did not start.
    pub fn url() -> Option<Result<String, String>> {
        static SERVER: OnceLock<Option<Result<Server, String>>> = OnceLock::new();
        let server = SERVER.get_or_init(|| {
            let bin = binaries()?;
            // A thread of its own: the caller may be inside a tokio runtime, and the
            // readiness poll needs one.
            Some(
                std::thread::spawn(move || start(&bin, Init::Fresh(None)))
                    .join()
                    .unwrap_or_else(|_| Err("starting it panicked".into())),
            )
        });
        Some(match server.as_ref()? {
            Ok(server) => Ok(server.url.clone()),
            Err(error) => Err(error.clone()),
        })
    }

    /// The folder holding both `initdb` and `postgres`: the first on `PATH`, else the highest
    /// version under `/usr/lib/postgresql`. Running as root, a `postgres` user must also exist.
    /// Keep in step with `build.rs`.
    fn binaries() -> Option<PathBuf> {
        let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .find(|dir| has_both(dir));
        let found = on_path.or_else(|| {
            std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|entry| {
                    let entry = entry.ok()?;
                    let version: Vec<u32> = entry
                        .file_name()
                        .to_string_lossy()
                        .split('.')
                        .map(|part| part.parse().ok())
                        .collect::<Option<_>>()?;
                    let bin = entry.path().join("bin");
                    has_both(&bin).then_some((version, bin))
                })
                .max()
                .map(|(_, bin)| bin)
        })?;
        (!running_as_root() || postgres_user().is_some()).then_some(found)
    }

    /// A program of the same installation as `initdb` in `bin`, which may be a link to it
    /// (`/usr/local/bin/initdb` to Debian's `/usr/lib/postgresql/15/bin/initdb`).
    fn beside_initdb(bin: &Path, program: &str) -> PathBuf {
        let initdb = bin.join("initdb");
        let installed = initdb.canonicalize().unwrap_or(initdb);
        let folder = installed.parent().unwrap_or(bin);
        folder.join(program)
    }

    fn running_as_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
    }

    /// The uid and gid of the `postgres` user.
    fn postgres_user() -> Option<(u32, u32)> {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        let line = passwd.lines().find(|line| line.starts_with("postgres:"))?;
        let mut fields = line.split(':').skip(2);
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    }

    /// A server of its own that takes TLS connections only, with this certificate and key (PEM);
    /// `None` when no server binaries were found. Its `url` names no `sslmode`.
    pub fn tls_only(certificate: &str, key: &str) -> Option<Result<Server, String>> {
        let bin = binaries()?;
        let tls = Tls {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
        };
        Some(
            std::thread::spawn(move || start(&bin, Init::Fresh(Some(&tls))))
                .join()
                .unwrap_or_else(|_| Err("starting it panicked".into())),
        )
    }

    /// A primary of its own and a hot standby streaming from it (made by `pg_basebackup -R`,
    /// as an operator makes one); `None` when no server binaries were found. Pausing the
    /// standby's replay (`pg_wal_replay_pause()`) touches no other test's server.
    pub fn replicated() -> Option<Result<(Server, Server), String>> {
        let bin = binaries()?;
        Some(
            std::thread::spawn(move || {
                let primary = start(&bin, Init::Fresh(None))?;
                let standby = start(&bin, Init::StandbyOf(&primary.url))?;
                Ok((primary, standby))
            })
            .join()
            .unwrap_or_else(|_| Err("starting them panicked".into())),
        )
    }

    /// How a server's data folder is made.
    enum Init<'a> {
        /// `initdb`, with TLS only when given.
        Fresh(Option<&'a Tls>),
        /// `pg_basebackup -R` from the primary at this URL: a hot standby.
        StandbyOf(&'a str),
    }

    /// A server certificate and key, PEM.
    struct Tls {
        certificate: String,
        key: String,
    }

    /// Writes the certificate and key into the data folder and lets only TLS connections in
    /// over TCP.
    fn configure_tls(data: &Path, tls: &Tls, owner: Option<(u32, u32)>) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let files = [
            ("server.crt", tls.certificate.as_str()),
            ("server.key", tls.key.as_str()),
            (
                "pg_hba.conf",
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            ),
        ];
        for (name, text) in files {
            let path = data.join(name);
            let write = || -> std::io::Result<()> {
                std::fs::write(&path, text)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
                }
                Ok(())
            };
            write().map_err(|error| format!("{}: {error}", path.display()))?;
        }
        Ok(())
    }

    fn start(bin: &Path, init: Init) -> Result<Server, String> {
        let tls = match init {
            Init::Fresh(tls) => tls,
            Init::StandbyOf(_) => None,
        };
        let started = Instant::now();
        let owner = match running_as_root() {
            true => Some(postgres_user().ok_or("running as root needs a `postgres` user")?),
            false => None,
        };
        let as_owner = |command: &mut Command| {
            if let Some((uid, gid)) = owner {
                command.uid(uid).gid(gid);
            }
        };
        let folder = tempfile::Builder::new()
            .prefix("tally-pg-")
            .tempdir()
            .map_err(|error| format!("temporary folder: {error}"))?
            .keep();
        // From here on, a failure removes the folder; once the supervisor runs, it does.
        let fail = |error: String| {
            let _ = std::fs::remove_dir_all(&folder);
            Err(error)
        };
        if let Some((uid, gid)) = owner
            && let Err(error) = std::os::unix::fs::chown(&folder, Some(uid), Some(gid))
        {
            return fail(format!("chown {}: {error}", folder.display()));
        }

        let mut make = match init {
            Init::Fresh(_) => {
                let mut initdb = Command::new(bin.join("initdb"));
                initdb
                    .arg("--pgdata")
                    .arg(folder.join("data"))
                    .args(["--username=postgres", "--auth=trust", "--encoding=UTF8"])
                    .args(["--locale=C", "--no-sync"]);
                initdb
            }
            Init::StandbyOf(primary) => {
                let mut basebackup = Command::new(beside_initdb(bin, "pg_basebackup"));
                basebackup
                    .arg("--pgdata")
                    .arg(folder.join("data"))
                    .args(["--write-recovery-conf", "--wal-method=stream", "--no-sync"])
                    .args(["--checkpoint=fast", "--dbname", primary]);
                basebackup
            }
        };
        make.current_dir(&folder);
        as_owner(&mut make);
        let program = make.get_program().to_owned();
        match make.output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                return fail(format!(
                    "{} failed ({}):\n{}{}",
                    program.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            Err(error) => return fail(format!("{}: {error}", program.display())),
        }

        if let Some(tls) = tls
            && let Err(error) = configure_tls(&folder.join("data"), tls, owner)
        {
            return fail(error);
        }

        // Held for the server's life: PostgreSQL binds it too (with `SO_REUSEADDR`), and no
        // other test's server can take it in between.
        let held = HeldPort::new();
        let port = held.port();
        let mut supervisor = Command::new("/bin/sh");
        supervisor
            .args(["-c", SUPERVISOR, "sh"])
            .arg(bin.join("postgres"))
            .arg(&folder)
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("max_connections={MAX_CONNECTIONS}")])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", if tls.is_some() { "ssl=on" } else { "ssl=off" }])
            .current_dir(&folder)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        as_owner(&mut supervisor);
        let mut supervisor = match supervisor.spawn() {
            Ok(child) => child,
            Err(error) => return fail(format!("/bin/sh: {error}")),
        };
        let lifeline = supervisor.stdin.take().expect("piped stdin");
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");

        // From here on, dropping `lifeline` stops the server and removes the folder.
        let log = || {
            std::fs::read_to_string(folder.join("server.log"))
                .unwrap_or_else(|error| format!("(no server log: {error})"))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("tokio runtime: {error}"))?;
        loop {
            if folder.join("exited").exists() {
                return Err(format!("postgres stopped on its own:\n{}", log()));
            }
            if let Ok(Some(status)) = supervisor.try_wait() {
                return fail(format!(
                    "the supervising shell stopped ({status}):\n{}",
                    log()
                ));
            }
            let attempt = runtime.block_on(async {
                let ready = match tls {
                    Some(_) => format!("{url}?sslmode=require"),
                    None => url.clone(),
                };
                let connect = sqlx::PgConnection::connect(&ready);
                match tokio::time::timeout(Duration::from_secs(5), connect).await {
                    Ok(Ok(connection)) => {
                        let _ = connection.close().await;
                        Ok(())
                    }
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("connecting timed out".to_string()),
                }
            });
            let Err(last_error) = attempt else {
                break;
            };
            if started.elapsed() > STARTUP_DEADLINE {
                return Err(format!(
                    "postgres did not accept connections within {STARTUP_DEADLINE:?} ({last_error}):\n{}",
                    log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "started a throwaway PostgreSQL server from {} on port {port} in {:.1?} (data in {})",
            bin.display(),
            started.elapsed(),
            folder.display()
        );
        Ok(Server {
            url,
            _lifeline: lifeline,
            _supervisor: supervisor,
            _port: held,
        })
    }
}

/// Without a POSIX shell there is no throwaway server: PostgreSQL needs the URL.
#[cfg(not(unix))]
mod server {
    pub struct Server {
        pub url: String,
    }

    pub fn url() -> Option<Result<String, String>> {
        None
    }

    pub fn tls_only(_: &str, _: &str) -> Option<Result<Server, String>> {
        None
    }

    pub fn replicated() -> Option<Result<(Server, Server), String>> {
        None
    }
}

pub use server::*;
