//! A TCP proxy in front of a PostgreSQL server that a test can cut (the database becomes
//! unreachable: connections refused, open ones closed) and restore on the same port.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::held_port::HeldPort;

pub struct Proxy {
    /// The database URL through the proxy.
    pub url: String,
    address: String,
    /// Its port, held while it is cut, so that no other test's server takes it meanwhile.
    _held: HeldPort,
    target: String,
    forwarding: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy in front of the server `url` names (`postgres://…@host:port/db`).
    pub async fn in_front_of(url: &str) -> Proxy {
        let (head, rest) = url.split_once('@').expect("a user in the URL");
        let (target, database) = rest.split_once('/').expect("a database in the URL");
        let held = HeldPort::new();
        let address = held.address();
        let listener = TcpListener::bind(&address).await.expect("the held port");
        let mut proxy = Proxy {
            url: format!("{head}@{address}/{database}"),
            address,
            _held: held,
            target: target.to_owned(),
            forwarding: None,
        };
        proxy.forwarding = Some(tokio::spawn(forward(listener, proxy.target.clone())));
        proxy
    }

    /// The database becomes unreachable: new connections are refused, open ones closed.
    pub async fn cut(&mut self) {
        if let Some(forwarding) = self.forwarding.take() {
            forwarding.abort();
            let _ = forwarding.await;
        }
    }

    /// The database is reachable again, on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(&self.address)
            .await
            .expect("the same, held port");
        self.forwarding = Some(tokio::spawn(forward(listener, self.target.clone())));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(forwarding) = &self.forwarding {
            forwarding.abort();
        }
    }
}

/// Accepts until aborted; aborted, it drops the listener and every connection with it.
async fn forward(listener: TcpListener, target: String) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let target = target.clone();
        connections.spawn(async move {
            if let Ok(mut server) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        while connections.try_join_next().is_some() {}
    }
}
