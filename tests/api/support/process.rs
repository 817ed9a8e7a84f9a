//! A real `tally serve` process, for the tests that need the binary itself: a kill, its log, a
//! process-wide recorder of its own. It listens on a port the kernel picks when it binds
//! (`127.0.0.1:0`) and says which in its log; a port picked beforehand and released could be
//! taken by one of the servers the other tests start at the same time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TestRequest;
use super::held_port::HeldPort;
use super::http_client::{HttpResponse, send};

/// Every wait on the server is bounded by this.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// What the server logs once it listens, with the address as the field `address`.
const SERVING: &str = "serving;";

/// What the server logs once `TALLY_METRICS_LISTEN` listens, with the address likewise.
const SERVING_METRICS: &str = "serving /metrics";

/// A running `tally serve`, killed when dropped so that a failing test leaves no process behind.
pub struct Server {
    child: Child,
    /// Where it listens, as its log says (or its held port).
    pub address: String,
    log: PathBuf,
    launch: Launch,
}

/// How a [`Server`] is started, kept to start it again.
struct Launch {
    root: PathBuf,
    secret: Option<String>,
    env: Vec<(String, String)>,
    /// Flags after `serve`.
    flags: Vec<String>,
    /// The port it listens on, held for it as long as it lives, when that must be known
    /// without its log; else it listens on port 0 (unless `env` or `flags` say otherwise).
    held: Option<HeldPort>,
}

impl Launch {
    fn spawn(&self, output: std::fs::File) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
        command
            .arg("serve")
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        with_clean_env(&mut command, &self.root, self.secret.as_deref());
        let listen = self
            .held
            .as_ref()
            .map_or("127.0.0.1:0".into(), HeldPort::address);
        command.env("TALLY_LISTEN", listen);
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command.spawn().expect("spawn tally serve")
    }
}

impl Server {
    /// Starts the real binary with `root/data` as its data directory (and its log in `root`),
    /// and waits until its health check answers.
    pub async fn start(root: &Path, secret: Option<&str>) -> Server {
        Server::start_with(root, secret, &[]).await
    }

    /// [`start`](Self::start) with more environment variables.
    pub async fn start_with(root: &Path, secret: Option<&str>, env: &[(&str, &str)]) -> Server {
        let log = root.join(format!("serve-{}.log", uuid::Uuid::now_v7().simple()));
        let output = std::fs::File::create(&log).expect("log file");
        Server::start_at(root, secret, output, log, "info", env, &[]).await
    }

    /// [`start`](Self::start) on a port held for it, so that
    /// [`start_again`](Self::start_again) brings it back on the same address: a page open on it
    /// reconnects.
    pub async fn start_restartable(root: &Path, secret: Option<&str>) -> Server {
        let log = root.join(format!("serve-{}.log", uuid::Uuid::now_v7().simple()));
        let output = std::fs::File::create(&log).expect("log file");
        let held = Some(HeldPort::new());
        Server::launch(root, secret, output, log, "info", &[], &[], held).await
    }

    /// [`start`](Self::start) with stdout and stderr going to `output`, which may be where
    /// nothing can be read back (`/dev/full`), at log level `level`: on a port held for it,
    /// since its log cannot say which it took.
    pub async fn start_logging_to(
        root: &Path,
        secret: Option<&str>,
        output: std::fs::File,
        log: PathBuf,
        level: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let held = Some(HeldPort::new());
        Server::launch(root, secret, output, log, level, env, &[], held).await
    }

    /// [`start`](Self::start) with stdout and stderr going to `output`, read back from `log`,
    /// at log level `level`, with `flags` after `serve`. `env` or `flags` may set the address
    /// (`TALLY_LISTEN` or `--listen`, as a user writes it: a host name is fine); the health
    /// check goes where the log says it listens.
    pub async fn start_at(
        root: &Path,
        secret: Option<&str>,
        output: std::fs::File,
        log: PathBuf,
        level: &str,
        env: &[(&str, &str)],
        flags: &[&str],
    ) -> Server {
        Server::launch(root, secret, output, log, level, env, flags, None).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn launch(
        root: &Path,
        secret: Option<&str>,
        output: std::fs::File,
        log: PathBuf,
        level: &str,
        env: &[(&str, &str)],
        flags: &[&str],
        held: Option<HeldPort>,
    ) -> Server {
        let mut settings = vec![("RUST_LOG".to_owned(), level.to_owned())];
        settings.extend(
            env.iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        let launch = Launch {
            root: root.to_owned(),
            secret: secret.map(str::to_owned),
            env: settings,
            flags: flags.iter().map(|flag| flag.to_string()).collect(),
            held,
        };
        let mut server = Server {
            child: launch.spawn(output),
            address: String::new(),
            log,
            launch,
        };
        server.wait_until_serving(0).await;
        server
    }

    /// Starts the server again after [`stop`](Self::stop) or [`kill`](Self::kill), with the
    /// same settings and log; waits until it is healthy. On the same address if it was started
    /// with [`start_restartable`](Self::start_restartable), else on a port picked anew.
    pub async fn start_again(&mut self) {
        let output = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("log file");
        let logged_before = self.log().len();
        self.child = self.launch.spawn(output);
        self.wait_until_serving(logged_before).await;
    }

    /// Learns where the server listens (its held port, or else the first `serving` line its
    /// log has past byte `from`), then waits until its health check answers there.
    async fn wait_until_serving(&mut self, from: usize) {
        self.address = match &self.launch.held {
            Some(held) => held.address(),
            None => self.wait_for_logged_address(SERVING, from).await,
        };
        self.wait_until_healthy().await;
    }

    /// The address the line of the log that begins with `message` names, once written there
    /// past byte `from`.
    async fn wait_for_logged_address(&mut self, message: &str, from: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut pause = Duration::from_millis(5);
        loop {
            let log = self.log();
            if let Some(address) = log.get(from..).and_then(|new| logged_address(new, message)) {
                return address;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tally serve exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "tally serve logged no {message:?} in time:\n{log}"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Where `/metrics` is served when `TALLY_METRICS_LISTEN` gives it an address of its own,
    /// as the log says. Logged before the API answers, so known once the server is started.
    pub fn metrics_address(&self) -> String {
        let log = self.log();
        logged_address(&log, SERVING_METRICS)
            .unwrap_or_else(|| panic!("no {SERVING_METRICS:?} line in the log:\n{log}"))
    }

    async fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        let mut pause = Duration::from_millis(5);
        loop {
            let health = send(&self.address, TestRequest::get("/api/dashboard/health")).await;
            if health.is_ok_and(|response| response.status == 200) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("tally serve exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "tally serve was not healthy in time:\n{}",
                self.log()
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap")
    }

    /// SIGTERM, then waits (bounded) for the graceful shutdown to finish.
    pub async fn stop(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(signalled.is_ok_and(|status| status.success()), "kill -TERM");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no shutdown:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn send(&self, request: TestRequest) -> HttpResponse {
        let what = request.to_string();
        send(&self.address, request)
            .await
            .unwrap_or_else(|error| panic!("{what}: {error}\n{}", self.log()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Data directory `root/data`, the given secret (or none), and no other `TALLY_*` setting
/// inherited from the environment the tests run in.
pub fn with_clean_env(command: &mut Command, root: &Path, secret: Option<&str>) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TALLY_") {
            command.env_remove(name);
        }
    }
    command
        .env("TALLY_DATA_DIR", root.join("data"))
        .env("TALLY_SQLITE_SYNC", "full");
    if let Some(secret) = secret {
        command.env("TALLY_JWT_SECRET", secret);
    }
}

/// The `address` field of the first whole line of `log` whose message begins with `message`,
/// in either log format: text (`… serving; … address=127.0.0.1:PORT`) or JSON
/// (`{"fields":{"message":"serving; …","address":"127.0.0.1:PORT"},…}`).
fn logged_address(log: &str, message: &str) -> Option<String> {
    // Whole lines only: the server may be writing the last one.
    let whole = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
    whole.lines().find_map(|line| {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
            let fields = &json["fields"];
            let said = fields["message"].as_str()?;
            return said
                .starts_with(message)
                .then(|| fields["address"].as_str().map(str::to_owned))?;
        }
        let (_, said) = line.split_once(&format!(": {message}"))?;
        let (_, address) = said.rsplit_once(" address=")?;
        address.split_whitespace().next().map(str::to_owned)
    })
}
