//! A real `tally serve` process on a free port, for the tests that need the binary itself:
//! a kill, its log, a process-wide recorder of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TestRequest;
use super::http_client::{HttpResponse, send};

/// Every wait on the server is bounded by this.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running `tally serve`, killed when dropped so that a failing test leaves no process behind.
pub struct Server {
    child: Child,
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
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command.spawn().expect("spawn tally serve")
    }
}

impl Server {
    /// Starts the real binary on a free port with `root/data` as its data directory (and its
    /// log in `root`), and waits until its health check answers.
    pub async fn start(root: &Path, secret: Option<&str>) -> Server {
        Server::start_with(root, secret, &[]).await
    }

    /// [`start`](Self::start) with more environment variables.
    pub async fn start_with(root: &Path, secret: Option<&str>, env: &[(&str, &str)]) -> Server {
        let log = root.join(format!("serve-{}.log", uuid::Uuid::now_v7().simple()));
        let output = std::fs::File::create(&log).expect("log file");
        Server::start_logging_to(root, secret, output, log, "info", env).await
    }

    /// [`start`](Self::start) with stdout and stderr going to `output`, read back from `log`,
    /// at log level `level`.
    pub async fn start_logging_to(
        root: &Path,
        secret: Option<&str>,
        output: std::fs::File,
        log: PathBuf,
        level: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let address = format!("127.0.0.1:{}", free_port());
        Server::start_at(root, secret, output, log, level, env, address, &[]).await
    }

    /// [`start_logging_to`](Self::start_logging_to) listening on `address` (`TALLY_LISTEN`, as a
    /// user writes it: a host name is fine), which the health check is also sent to, with
    /// `flags` after `serve`.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_at(
        root: &Path,
        secret: Option<&str>,
        output: std::fs::File,
        log: PathBuf,
        level: &str,
        env: &[(&str, &str)],
        address: String,
        flags: &[&str],
    ) -> Server {
        let mut settings = vec![
            ("RUST_LOG".to_owned(), level.to_owned()),
            ("TALLY_LISTEN".to_owned(), address.clone()),
        ];
        settings.extend(
            env.iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        let launch = Launch {
            root: root.to_owned(),
            secret: secret.map(str::to_owned),
            env: settings,
            flags: flags.iter().map(|flag| flag.to_string()).collect(),
        };
        let mut server = Server {
            child: launch.spawn(output),
            address,
            log,
            launch,
        };
        server.wait_until_healthy().await;
        server
    }

    /// Starts the server again after [`stop`](Self::stop) or [`kill`](Self::kill), on the
    /// same address, with the same settings and log; waits until it is healthy.
    pub async fn start_again(&mut self) {
        let output = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("log file");
        self.child = self.launch.spawn(output);
        self.wait_until_healthy().await;
    }

    pub async fn wait_until_healthy(&mut self) {
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

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
