//! A port held for a process of ours that must listen on a port known before it starts: a
//! server started again where a page is open on it, a server whose log cannot be read, two
//! settings that must name the same address, a proxy cut and restored, a port where nothing
//! listens. A port picked by binding port 0 and dropping the
//! listener is free only until another test's server takes it; a held one is not.
//!
//! Held means bound, with `SO_REUSEADDR`, and not listening. On Linux the kernel then gives the
//! port to no other port-0 bind and no outgoing connection, a connection to it is refused,
//! and a process that also asks `SO_REUSEADDR` (tally's listeners do, through tokio) may still
//! bind and listen on it, since the held socket does not listen.

use std::net::SocketAddr;

use tokio::net::TcpSocket;

/// A port on 127.0.0.1, held until this is dropped.
pub struct HeldPort {
    _socket: TcpSocket,
    address: SocketAddr,
}

impl HeldPort {
    /// A port the kernel picks, held from now on.
    pub fn new() -> HeldPort {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind("127.0.0.1:0".parse().unwrap())
            .expect("a port to hold");
        let address = socket.local_addr().expect("the held port");
        HeldPort {
            _socket: socket,
            address,
        }
    }

    /// `127.0.0.1:PORT`, as `TALLY_LISTEN` takes it.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }
}
