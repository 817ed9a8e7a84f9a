//! A real Chromium, driven over WebDriver by Debian's `chromedriver`, for the page's tests.
//! Where neither is installed, `build.rs` sets `cfg(browser_unavailable)` and those tests are
//! reported as ignored with the reason (under `CI` or `TALLY_TEST_BROWSER=required` they run,
//! and fail).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::PATIENCE;

/// How often a wait on the page looks again: a WebDriver round trip costs milliseconds.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// Browsers open at once: each Chromium takes a core while it starts, and the rest of the
/// suite runs beside them on two.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// A headless Chromium with its driver; both end when this is dropped.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    _turn: SemaphorePermit<'static>,
}

impl Browser {
    /// Starts `chromedriver` on a port of its own and a headless Chromium session through it,
    /// in a desktop's window.
    pub async fn start() -> Browser {
        Browser::start_with(Value::Null).await
    }

    /// The same, showing pages as a phone of `width` × `height` CSS pixels (390 × 844) does:
    /// Chromium's own window is never narrower than 500 pixels.
    pub async fn start_as_phone(width: u32, height: u32) -> Browser {
        let metrics = json!({ "width": width, "height": height, "pixelRatio": 3 });
        Browser::start_with(json!({ "deviceMetrics": metrics })).await
    }

    async fn start_with(mobile_emulation: Value) -> Browser {
        let turn = BROWSERS.acquire().await.expect("never closed");
        // Port 0: it binds a port the kernel picks and says which, so that no port picked
        // beforehand can be taken meanwhile by a server of another test.
        let mut driver = Command::new(chromedriver())
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // A group of its own, with the Chromium it starts, so that all of it can be
            // stopped at once, even after a failed test.
            .process_group(0)
            .spawn()
            .expect("chromedriver (apt-get install chromium chromium-driver)");
        let said = driver.stdout.take().expect("its stdout");
        let mut browser = Browser {
            client: None,
            driver,
            _turn: turn,
        };
        let port = tokio::time::timeout(PATIENCE, listening_port(said))
            .await
            .unwrap_or_else(|_| panic!("chromedriver did not say its port in {PATIENCE:?}"))
            .unwrap_or_else(|| {
                let status = browser.driver.try_wait().unwrap();
                panic!("chromedriver ended ({status:?}) before it said its port")
            });
        let mut capabilities = json!({
            "goog:chromeOptions": {
                // No sandbox: tests may run as root, where Chromium's sandbox refuses to start.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000"],
            }
        });
        if !mobile_emulation.is_null() {
            capabilities["goog:chromeOptions"]["mobileEmulation"] = mobile_emulation;
        }
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // Chromium may be slow to start on a busy machine: a refused session is asked for
        // again until the deadline.
        let deadline = Instant::now() + PATIENCE;
        let url = format!("http://127.0.0.1:{port}");
        loop {
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match connected {
                Ok(client) => {
                    browser.client = Some(client);
                    return browser;
                }
                Err(error) => {
                    if let Some(status) = browser.driver.try_wait().unwrap() {
                        panic!("chromedriver exited with {status}");
                    }
                    assert!(Instant::now() < deadline, "no browser session: {error}");
                    tokio::time::sleep(LOOK_EVERY).await;
                }
            }
        }
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    pub async fn goto(&self, url: &str) {
        self.client().goto(url).await.expect("navigate");
    }

    /// The element `css` names, once it is on the page.
    pub async fn find(&self, css: &str) -> Element {
        let mut found = None;
        self.wait_until(&format!("{css} on the page"), async || {
            found = self.client().find(Locator::Css(css)).await.ok();
            found.is_some()
        })
        .await;
        found.unwrap()
    }

    /// The text of the element `css` names, or `None` while there is none.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client().find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until the element `css` names shows `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let mut seen = None;
        self.wait_until(&format!("{css} to show {expected:?}"), async || {
            seen = self.text(css).await;
            seen.as_deref() == Some(expected)
        })
        .await;
    }

    /// The figure card of `field`'s value, once it shows `expected`.
    pub async fn wait_for_figure(&self, field: &str, expected: &str) {
        self.wait_for_text(&format!("[data-figure=\"{field}\"]"), expected)
            .await;
    }

    /// Runs `script` in the page; what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.client()
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("{script}: {error}"))
    }

    /// Waits until `condition` holds, looking every [`LOOK_EVERY`], within [`PATIENCE`]; fails
    /// with `what` and the page's text otherwise.
    pub async fn wait_until(&self, what: &str, mut condition: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition().await {
            if Instant::now() >= deadline {
                let page = self.text("body").await.unwrap_or_default();
                panic!("waited {PATIENCE:?} for {what}, in vain; the page shows:\n{page}");
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// Ends the session (Chromium quits) and the driver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// The port `chromedriver` says it listens on (`ChromeDriver was started successfully on port
/// 41005.`), once it does; `None` if it ends first. Its output is read on to the end, so that
/// it never waits on a full pipe.
async fn listening_port(said: ChildStdout) -> Option<u16> {
    let (tell, told) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(said).lines().map_while(Result::ok);
        let port = lines.by_ref().find_map(|line| {
            let (_, port) = line.split_once("started successfully on port ")?;
            port.trim_end_matches('.').parse::<u16>().ok()
        });
        if let Some(port) = port {
            let _ = tell.send(port);
        }
        lines.for_each(drop);
    });
    told.await.ok()
}

/// `TALLY_TEST_CHROMEDRIVER`, or Debian's.
fn chromedriver() -> String {
    std::env::var("TALLY_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
