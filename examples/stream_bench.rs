//! Load for the dashboard streams, over real sockets, against running servers
//! (`scripts/stream_bench.sh` starts them and runs every mode):
//!
//! - `latency NODE_A NODE_B RATE SECONDS`: one user's stream open on each node; commands for
//!   that user sent to A at RATE per second; for each answered command, the time from its 2xx
//!   answer to the first event on each stream whose id reaches its position (p50, p99, max).
//! - `idle NODE COUNT SECONDS`: COUNT streams (one user each) opened and their first events
//!   read, then held for SECONDS doing nothing; prints when they are all open, so the script
//!   can read the server's memory and CPU.
//! - `stalled NODE RATE SECONDS`: one stream that is never read while its user's commands run
//!   at RATE for SECONDS (the server's memory must not grow).
//! - `writes NODE STREAMS SECONDS`: commands as fast as 16 connections go for SECONDS, for 16
//!   users, with STREAMS streams of those users open (0 for none): commands per second and,
//!   where `TALLY_PID` names the server's process, its CPU time per command while they ran
//!   (user + system, from `/proc`).
//!
//! `TALLY_JWT_SECRET` must be the servers' secret.

use std::time::{Duration, Instant};

use chrono::Utc;
use tally::auth::{AuthConfig, Authenticator};
use tally::domain::UserId;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize| args.get(n).cloned().unwrap_or_default();
    let number = |n: usize| arg(n).parse::<u64>().expect("a number");
    match arg(0).as_str() {
        "latency" => latency(&arg(1), &arg(2), number(3), number(4)).await,
        "idle" => idle(&arg(1), number(2) as usize, number(3)).await,
        "stalled" => stalled(&arg(1), number(2), number(3)).await,
        "writes" => writes(&arg(1), number(2) as usize, number(3)).await,
        other => panic!("unknown mode {other:?}: latency, idle, stalled or writes"),
    }
}

fn token(user: &str) -> String {
    let config = AuthConfig {
        secret: std::env::var("TALLY_JWT_SECRET").ok(),
        ..AuthConfig::default()
    };
    let auth = Authenticator::from_config(&config, "./data".as_ref()).expect("a secret");
    let user = UserId::parse(user).expect("a user id");
    auth.mint(&user, Utc::now() + chrono::Duration::hours(1))
        .expect("a token")
}

/// A keep-alive HTTP/1.1 connection for commands.
struct Client {
    connection: BufReader<TcpStream>,
    address: String,
    token: String,
}

impl Client {
    async fn connect(address: &str, user: &str) -> Client {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Client {
            connection: BufReader::new(stream),
            address: address.to_owned(),
            token: token(user),
        }
    }

    /// Creates a task; the command's position.
    async fn create(&mut self) -> i64 {
        let body = r#"{"title":"bench"}"#;
        let request = format!(
            "POST /api/tasks HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.address,
            self.token,
            body.len()
        );
        self.connection
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut length = 0;
        let mut line = String::new();
        self.connection.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 201"), "command refused: {line}");
        loop {
            line.clear();
            self.connection.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
            assert!(!line.is_empty(), "the server closed the connection");
        }
        let mut body = vec![0; length];
        self.connection.read_exact(&mut body).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        answer["position"].as_i64().expect("a command's answer")
    }
}

/// An open stream, its chunked body decoded.
struct Stream {
    connection: BufReader<TcpStream>,
    pending: String,
}

impl Stream {
    async fn open(address: &str, user: &str) -> Stream {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!(
            "GET /api/dashboard/stream HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\r\n",
            token(user)
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut connection = BufReader::new(stream);
        let mut line = String::new();
        connection.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "stream refused: {line}");
        while line != "\r\n" {
            line.clear();
            let read = connection.read_line(&mut line).await.unwrap();
            assert!(read > 0, "the server closed the stream");
        }
        Stream {
            connection,
            pending: String::new(),
        }
    }

    /// The id of the next event that has one.
    async fn next_id(&mut self) -> i64 {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                if let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) {
                    return id.parse().unwrap();
                }
                continue;
            }
            let mut size = String::new();
            self.connection.read_line(&mut size).await.unwrap();
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            assert!(size > 0, "the stream ended");
            let mut chunk = vec![0; size + 2];
            self.connection.read_exact(&mut chunk).await.unwrap();
            self.pending
                .push_str(std::str::from_utf8(&chunk[..size]).unwrap());
        }
    }
}

/// Reads `stream`'s ids as they come, with their arrival times.
fn record(mut stream: Stream, arrivals: mpsc::UnboundedSender<(i64, Instant)>) {
    tokio::spawn(async move {
        loop {
            let id = stream.next_id().await;
            if arrivals.send((id, Instant::now())).is_err() {
                return;
            }
        }
    });
}

async fn latency(node_a: &str, node_b: &str, rate: u64, seconds: u64) {
    let user = format!("latency-{}", uuid::Uuid::now_v7().simple());
    let mut arrivals = Vec::new();
    for node in [node_a, node_b] {
        let mut stream = Stream::open(node, &user).await;
        stream.next_id().await;
        let (sender, receiver) = mpsc::unbounded_channel();
        record(stream, sender);
        arrivals.push(receiver);
    }
    // Eight connections share the rate, each on a fixed schedule.
    let (answers, mut answered) = mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (node, user, answers) = (node_a.to_owned(), user.clone(), answers.clone());
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(&node, &user).await;
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(8.0 / rate as f64));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let end = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < end {
                ticks.tick().await;
                let position = client.create().await;
                let _ = answers.send((position, Instant::now()));
            }
        }));
    }
    drop(answers);
    for sender in senders {
        sender.await.unwrap();
    }
    let mut commands = Vec::new();
    while let Some(answer) = answered.recv().await {
        commands.push(answer);
    }
    let last = commands
        .iter()
        .map(|(position, _)| *position)
        .max()
        .unwrap();
    println!(
        "{} commands in {seconds} s ({:.0}/s)",
        commands.len(),
        commands.len() as f64 / seconds as f64
    );
    for (name, receiver) in ["same node", "other node"].into_iter().zip(&mut arrivals) {
        let mut events = Vec::new();
        while events.last().is_none_or(|(id, _)| *id < last) {
            let next = tokio::time::timeout(Duration::from_secs(10), receiver.recv()).await;
            events.push(next.expect("the last event comes").expect("open"));
        }
        let mut delays: Vec<f64> = commands
            .iter()
            .map(|(position, at)| {
                let (_, arrived) = events.iter().find(|(id, _)| id >= position).unwrap();
                arrived.saturating_duration_since(*at).as_secs_f64() * 1000.0
            })
            .collect();
        delays.sort_by(f64::total_cmp);
        let at = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
        println!(
            "{name}: {} events; answer-to-event ms p50 {:.2} p99 {:.2} max {:.2}",
            events.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

async fn idle(node: &str, count: usize, seconds: u64) {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(count);
    for n in 0..count {
        let mut stream = Stream::open(node, &format!("idle-{n}")).await;
        stream.next_id().await;
        streams.push(stream);
    }
    println!(
        "{count} streams open in {:.1} s; holding them {seconds} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    println!("done");
}

async fn stalled(node: &str, rate: u64, seconds: u64) {
    let user = "stalled";
    // Opened and never read again.
    let _stream = Stream::open(node, user).await;
    let mut client = Client::connect(node, user).await;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut sent = 0;
    while Instant::now() < end {
        ticks.tick().await;
        client.create().await;
        sent += 1;
    }
    println!("{sent} commands for a user whose stream was never read");
}

async fn writes(node: &str, streams: usize, seconds: u64) {
    let users: Vec<String> = (0..16).map(|n| format!("writer-{n}")).collect();
    let mut open = Vec::new();
    for n in 0..streams {
        let mut stream = Stream::open(node, &users[n % users.len()]).await;
        stream.next_id().await;
        let (sender, receiver) = mpsc::unbounded_channel();
        record(stream, sender);
        open.push(receiver);
    }
    let server = std::env::var("TALLY_PID").ok();
    let cpu_before = server.as_deref().map(cpu_seconds);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut writers = Vec::new();
    for user in users {
        let node = node.to_owned();
        writers.push(tokio::spawn(async move {
            let mut client = Client::connect(&node, &user).await;
            let mut done = 0u64;
            while Instant::now() < end {
                client.create().await;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for writer in writers {
        total += writer.await.unwrap();
    }
    let cpu = cpu_before
        .map(|before| {
            let used = cpu_seconds(server.as_deref().unwrap()) - before;
            format!("; server CPU {:.0} µs/command", used * 1e6 / total as f64)
        })
        .unwrap_or_default();
    let mut events = 0;
    for receiver in &mut open {
        while receiver.try_recv().is_ok() {
            events += 1;
        }
    }
    println!(
        "{streams} streams: {:.0} commands/s ({total} in {seconds} s), {events} events read by the end{cpu}",
        total as f64 / seconds as f64
    );
}

/// The CPU time process `pid` has used (user + system), in seconds.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's /proc");
    // The fields after the command's name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux counts in USER_HZ, 100 per second on every architecture tally runs on.
    ticks / 100.0
}
