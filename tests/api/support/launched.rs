//! `tally::launch` in this process, as `tally serve` runs it, on a test app's database and
//! secret: for the tests of a graceful stop, which need the whole server (the background
//! tasks, the connection loop) and a stop they begin themselves.

use clap::Parser;
use tally::config::{Cli, CliCommand};
use tally::server::LaunchError;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{PATIENCE, TEST_SECRET, TestApp};

/// A server serving until [`stop`](Self::stop) is called.
pub struct Launched {
    /// `127.0.0.1:PORT`.
    pub address: String,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<(), LaunchError>>,
}

impl Launched {
    /// The server on `app`'s database (through its direct URL too, behind a pooler), on a
    /// port of its own.
    pub async fn start(app: &TestApp) -> Launched {
        let mut args = vec![
            "tally".to_owned(),
            "serve".into(),
            "--data-dir".into(),
            app.db.dir.path().display().to_string(),
            "--database-url".into(),
            app.db.url.clone(),
            "--jwt-secret".into(),
            TEST_SECRET.into(),
        ];
        if let Some(direct) = &app.db.direct_url {
            args.extend(["--database-direct-url".into(), direct.clone()]);
        }
        let CliCommand::Serve(settings) = Cli::try_parse_from(args).expect("settings").command
        else {
            panic!("parsed as serve")
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            tally::launch(&settings, listener, shutdown).await
        });
        Launched {
            address,
            stop: Some(stop),
            serving,
        }
    }

    /// Begins the graceful stop, as SIGTERM does.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the server to end (within [`PATIENCE`]), and asserts that it stopped cleanly.
    pub async fn stopped(self) {
        let served = tokio::time::timeout(PATIENCE, self.serving)
            .await
            .expect("the server stops");
        served.unwrap().expect("a clean stop");
    }
}
