//! Every setting as a user sets it: each variable of README.md's configuration table and each
//! flag of every subcommand, given to the real binary. A plausible value starts the server (or
//! the command succeeds); an invalid one stops it at once, naming the variable, the value and
//! what is expected. A setting the tables in `cases.rs` do not know fails the test, so none can ship
//! without starting the server once (`TALLY_CORS_ORIGINS` once panicked at every start).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use futures_util::future::join_all;

use crate::support::held_port::HeldPort;
use crate::support::process::{Server, with_clean_env};
use crate::support::{PATIENCE, TEST_SECRET, TestRequest};

mod cases;
use cases::{REFUSED, RUNS, SECRET, VARIABLES};

#[tokio::test]
async fn every_variable_of_the_readme_is_known_to_the_binary_and_to_this_test() {
    let documented = readme_variables();
    let known: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
    assert_eq!(
        documented, known,
        "README's configuration table against VARIABLES"
    );
    let mut read_by_binary = BTreeSet::new();
    for subcommand in subcommands() {
        read_by_binary.extend(flags_and_variables(&[&subcommand]).into_values().flatten());
    }
    assert_eq!(
        read_by_binary, documented,
        "the variables the binary reads against README's configuration table"
    );
}

#[tokio::test]
async fn every_variable_with_a_plausible_value_starts_the_server() {
    let root = tempfile::tempdir().unwrap();
    let starts = VARIABLES.iter().map(|variable| {
        let root = root.path().join(variable.name);
        async move {
            let value = fill(variable.plausible, &root);
            start_with(&root, &[(variable.name, &value)]).await
        }
    });
    for server in join_all(starts).await {
        let health = server.send(TestRequest::get("/api/dashboard/health")).await;
        assert_eq!(health.status, 200, "{}", server.log());
    }
}

#[tokio::test]
async fn every_flag_of_serve_with_a_plausible_value_starts_the_server() {
    let flags = flags_and_variables(&["serve"]);
    let root = tempfile::tempdir().unwrap();
    let starts = flags.iter().map(|(flag, variable)| {
        let variable = variable.as_ref().unwrap_or_else(|| {
            panic!("serve {flag} has no variable: every serve setting is a variable too")
        });
        let known = VARIABLES.iter().find(|v| v.name == variable.as_str());
        let known = known.unwrap_or_else(|| panic!("{variable} is not in VARIABLES"));
        let root = root.path().join(flag.trim_start_matches('-'));
        async move {
            let value = fill(known.plausible, &root);
            let server = start_at(&root, &[], &[flag, &value]).await;
            (flag.clone(), server)
        }
    });
    for (flag, server) in join_all(starts).await {
        let health = server.send(TestRequest::get("/api/dashboard/health")).await;
        assert_eq!(health.status, 200, "{flag}: {}", server.log());
    }
}

#[tokio::test]
async fn every_invalid_variable_stops_the_start_naming_the_variable_the_value_and_the_rule() {
    let root = tempfile::tempdir().unwrap();
    let runs = VARIABLES.iter().filter_map(|variable| {
        let (value, expected) = variable.invalid?;
        let root = root.path().join(variable.name);
        Some(async move {
            let output = run(&root, &["serve"], &[(variable.name, value)]).await;
            (variable, value, expected, output)
        })
    });
    for (variable, value, expected, output) in join_all(runs).await {
        let said = String::from_utf8_lossy(&output.stderr);
        let name = variable.name;
        assert!(
            !output.status.success(),
            "{name}={value:?} started:\n{said}"
        );
        assert!(said.contains(name), "{name} not named:\n{said}");
        assert!(
            said.contains(expected),
            "{name}: {expected:?} not said:\n{said}"
        );
        if SECRET.contains(&name) {
            assert!(!said.contains(value), "{name}'s value shown:\n{said}");
        } else {
            assert!(said.contains(value), "{name}: the value not shown:\n{said}");
        }
    }
}

#[tokio::test]
async fn the_cors_origins_a_user_sets_pass_preflight() {
    let root = tempfile::tempdir().unwrap();
    let origins = "https://app.example.com, http://localhost:5173";
    let server = start_with(root.path(), &[("TALLY_CORS_ORIGINS", origins)]).await;
    let preflight = |origin: &str| {
        TestRequest::new("OPTIONS", "/api/tasks")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };
    let allowed = server.send(preflight("http://localhost:5173")).await;
    assert_eq!(
        allowed
            .headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("http://localhost:5173")
    );
    let other = server.send(preflight("https://evil.example.com")).await;
    assert_eq!(other.headers.get("access-control-allow-origin"), None);
}

#[tokio::test]
async fn every_flag_of_every_other_subcommand_is_run_as_a_user_gives_it() {
    let root = tempfile::tempdir().unwrap();
    let mut given: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (arguments, printed) in RUNS {
        let subcommand = arguments
            .iter()
            .find(|a| !a.starts_with('-') && *a != &"json");
        let subcommand = subcommand.unwrap().to_string();
        let flags = arguments.iter().filter(|a| a.starts_with("--"));
        given
            .entry(subcommand)
            .or_default()
            .extend(flags.map(|f| f.to_string()));
        let arguments: Vec<String> = arguments.iter().map(|a| fill(a, root.path())).collect();
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let output = run(root.path(), &arguments, &[]).await;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            said.contains(printed),
            "{arguments:?}: {printed:?} not said:\n{said}"
        );
    }
    // A global flag (`--log-format`) is listed by every subcommand: given once is enough.
    let global: BTreeSet<String> = flags_and_variables(&[]).into_keys().collect();
    let given_anywhere: BTreeSet<String> = given.values().flatten().cloned().collect();
    let untried: Vec<_> = global.difference(&given_anywhere).collect();
    assert!(untried.is_empty(), "tally: {untried:?} never given in RUNS");
    for subcommand in subcommands().into_iter().filter(|s| s != "serve") {
        let flags: BTreeSet<String> = flags_and_variables(&[&subcommand]).into_keys().collect();
        let tried = given.get(&subcommand).cloned().unwrap_or_default();
        let untried: Vec<_> = flags
            .iter()
            .filter(|flag| !tried.contains(*flag) && !global.contains(*flag))
            .collect();
        assert!(
            untried.is_empty(),
            "tally {subcommand}: {untried:?} never given in RUNS"
        );
    }
    for (arguments, expected) in REFUSED {
        let output = run(root.path(), arguments, &[]).await;
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}:\n{said}");
        assert!(
            said.contains(expected),
            "{arguments:?}: {expected:?} not said:\n{said}"
        );
    }
}

#[tokio::test]
async fn a_malformed_rust_log_stops_the_start_saying_what_a_filter_looks_like() {
    let root = tempfile::tempdir().unwrap();
    let output = run(root.path(), &["serve"], &[("RUST_LOG", "tally=loud")]).await;
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("RUST_LOG=\"tally=loud\"") && said.contains("warn,tally=debug"));
}

#[tokio::test]
async fn a_metrics_address_equal_to_the_api_s_stops_the_start() {
    let root = tempfile::tempdir().unwrap();
    // Held, so that no other test's server takes it before this one binds it (the check comes
    // after the API's address is bound).
    let held = HeldPort::new();
    let address = held.address();
    let env = [
        ("TALLY_LISTEN", address.as_str()),
        ("TALLY_METRICS_LISTEN", &address),
    ];
    let output = run(root.path(), &["serve"], &env).await;
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("TALLY_METRICS_LISTEN") && !said.contains("serving"),
        "{said}"
    );
}

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colours() {
    let root = tempfile::tempdir().unwrap();
    let server = start_with(root.path(), &[]).await;
    assert!(server.log().contains("serving"));
    assert!(!server.log().contains('\u{1b}'), "{:?}", server.log());
}

/// Starts `tally serve` in `root` with `env` set, as a user would.
async fn start_with(root: &Path, env: &[(&str, &str)]) -> Server {
    start_at(root, env, &[]).await
}

/// `tally serve FLAGS` in `root` with `env` set; on a port of its own unless they say where.
async fn start_at(root: &Path, env: &[(&str, &str)], flags: &[&str]) -> Server {
    std::fs::create_dir_all(root).unwrap();
    let log = root.join("serve.log");
    let output = std::fs::File::create(&log).unwrap();
    Server::start_at(root, None, output, log, "info", env, flags).await
}

/// `tally ARGUMENTS` run to its end (bounded), in `root`, with only `env` set.
async fn run(root: &Path, arguments: &[&str], env: &[(&str, &str)]) -> Output {
    std::fs::create_dir_all(root).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .args(arguments)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    with_clean_env(&mut command, root, None);
    // Runs in parallel, so never the default port: one the kernel picks when it binds.
    command.env("TALLY_LISTEN", "127.0.0.1:0");
    command.envs(env.iter().map(|(name, value)| (name, fill(value, root))));
    let started = Instant::now();
    let output = tokio::time::timeout(PATIENCE, tokio::process::Command::from(command).output())
        .await
        .unwrap_or_else(|_| panic!("tally {arguments:?} {env:?} still running after {PATIENCE:?}"));
    assert!(started.elapsed() < PATIENCE);
    output.expect("run tally")
}

/// The value with its placeholders filled in.
fn fill(value: &str, root: &Path) -> String {
    value
        .replace("{root}", &root.display().to_string())
        .replace("{pem}", &fixture("rsa-public.pem").display().to_string())
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `TALLY_*` variables in the first column of README.md's configuration table.
fn readme_variables() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    readme
        .lines()
        .filter(|line| line.starts_with("| `TALLY_"))
        .flat_map(|line| {
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            first_cell
                .split('`')
                .filter(|word| word.starts_with("TALLY_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `tally --help`'s subcommands, `help` aside.
fn subcommands() -> Vec<String> {
    let help = help(&[]);
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Each `--flag` of `tally SUBCOMMAND --help` (`--help` and `--version` aside) with the
/// variable it reads, if any.
fn flags_and_variables(subcommand: &[&str]) -> BTreeMap<String, Option<String>> {
    let mut flags = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help(subcommand).lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            current = trimmed
                .split([' ', ','])
                .find(|word| word.starts_with("--"))
                .filter(|flag| *flag != "--help" && *flag != "--version")
                .map(str::to_owned);
            if let Some(flag) = &current {
                flags.insert(flag.clone(), None);
            }
        }
        if let (Some(flag), Some((_, after))) = (&current, line.split_once("[env: ")) {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            flags.insert(flag.clone(), Some(name));
        }
    }
    flags
}

fn help(subcommand: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(subcommand)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn the_database_urls_a_user_sets_open_postgresql() {
    let db = crate::support::TestDb::create(crate::support::Backend::Postgres)
        .await
        .expect("PostgreSQL was available when this test binary was built");
    let root = tempfile::tempdir().unwrap();
    let env = [
        ("TALLY_DATABASE_URL", db.url.as_str()),
        ("TALLY_DATABASE_DIRECT_URL", db.session_url()),
        ("TALLY_JWT_SECRET", TEST_SECRET),
    ];
    let server = start_with(root.path(), &env).await;
    let created = server
        .send(
            TestRequest::post("/api/tasks")
                .user("alice")
                .json(serde_json::json!({"title": "stored in PostgreSQL"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", server.log());
    assert_eq!(db.event_count().await, 1);
}
