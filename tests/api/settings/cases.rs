//! The settings `settings` tries, as data: a value a user might give each one, and one tally
//! must refuse.

use crate::support::TEST_SECRET;

/// A variable of the configuration table: a value a user might set, and one tally must refuse
/// (with a fragment of what it says is expected). `{root}` is the test's folder, `{pem}` a
/// public key.
pub struct Variable {
    pub name: &'static str,
    pub plausible: &'static str,
    pub invalid: Option<(&'static str, &'static str)>,
}

const fn variable(
    name: &'static str,
    plausible: &'static str,
    invalid: Option<(&'static str, &'static str)>,
) -> Variable {
    Variable {
        name,
        plausible,
        invalid,
    }
}

pub const VARIABLES: &[Variable] = &[
    variable(
        "TALLY_DATABASE_URL",
        "sqlite://{root}/elsewhere.db",
        Some(("mysql://127.0.0.1/tally", "expected sqlite://PATH")),
    ),
    variable(
        "TALLY_DATABASE_DIRECT_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
        Some(("localhost/tally", "expected postgres://")),
    ),
    variable(
        "TALLY_DATABASE_READ_URL",
        // Two, as the README writes them; checked, then ignored with SQLite.
        "postgres://postgres@127.0.0.1:5432/postgres,postgres://postgres@127.0.0.1:5433/postgres",
        Some(("localhost/tally", "expected postgres://")),
    ),
    variable(
        "TALLY_DATA_DIR",
        "{root}/elsewhere",
        Some(("/dev/null/data", "Not a directory")),
    ),
    variable(
        "TALLY_LISTEN",
        // A host name, as a user may write it; port 0, a port of its own, picked when bound
        // and read back from the log (see `TALLY_METRICS_LISTEN`).
        "localhost:0",
        Some(("localhost", "HOST:PORT")),
    ),
    variable(
        "TALLY_JWT_SECRET",
        "a secret of at least thirty-two bytes",
        Some(("too short", "at least 32 bytes")),
    ),
    variable(
        "TALLY_JWT_PUBLIC_KEY_FILE",
        "{pem}",
        Some(("/dev/null", "no RSA, EC (P-256) or Ed25519 public key")),
    ),
    variable("TALLY_JWT_ISSUER", "https://id.example.com", None),
    variable("TALLY_JWT_AUDIENCE", "tally", None),
    variable(
        "TALLY_SQLITE_SYNC",
        "normal",
        Some(("fast", "full, normal")),
    ),
    variable(
        "TALLY_JOB_ROLL_OVER",
        "0 5 0 * * *",
        Some(("0 0 * * *", "6 fields, seconds first")),
    ),
    variable(
        "TALLY_JOB_SAMPLE_VERIFY",
        "off",
        Some(("every hour", "6 fields, seconds first")),
    ),
    variable(
        "TALLY_JOB_SAMPLE_USERS",
        "5",
        Some(("many", "invalid digit")),
    ),
    variable(
        "TALLY_JOB_EXPIRE_KEYS",
        "0 0 * * * *",
        Some(("0 61 * * * *", "6 fields, seconds first")),
    ),
    variable("TALLY_MAX_CONNECTIONS", "64", Some(("0", "1..="))),
    variable(
        "TALLY_HEADER_READ_TIMEOUT",
        "5s",
        Some(("5y", "s, m, h or d")),
    ),
    variable("TALLY_STREAMS_PER_USER", "2", Some(("0", "1..="))),
    variable("TALLY_MAX_STREAMS", "16", Some(("-1", "1..="))),
    variable("TALLY_READ_CACHE_MB", "8", Some(("lots", "invalid digit"))),
    variable(
        "TALLY_CORS_ORIGINS",
        "https://app.example.com,http://localhost:5173",
        Some(("app.example.com", "scheme://host[:port]")),
    ),
    variable(
        "TALLY_PUBLIC_URL",
        "https://tally.example.com",
        Some((
            "tally.example.com/mcp?x=1",
            "absolute http:// or https:// URL",
        )),
    ),
    variable(
        "TALLY_METRICS_LISTEN",
        // Port 0: a port of its own, picked when bound. A port picked beforehand and released
        // could be taken by one of the servers these tests start at the same time.
        "127.0.0.1:0",
        Some(("nowhere", "HOST:PORT")),
    ),
    variable("TALLY_LOG_FORMAT", "json", Some(("xml", "text, json"))),
    variable("TALLY_WRITE_TIMEOUT", "10s", Some(("soon", "s, m, h or d"))),
];

/// Variables whose values are secrets: an error names them but never shows the value.
pub const SECRET: &[&str] = &["TALLY_JWT_SECRET"];

/// A run of a subcommand other than `serve`, and a fragment of what it prints on success.
pub const RUNS: &[(&[&str], &str)] = &[
    (
        &[
            "--log-format",
            "json",
            "migrate",
            "--data-dir",
            "{root}/migrate",
            "--database-url",
            "sqlite://{root}/migrate.db",
            "--sqlite-sync",
            "normal",
            "--database-direct-url",
            "postgres://postgres@127.0.0.1/postgres",
        ],
        "database is up to date",
    ),
    (
        &[
            "token",
            "--user",
            "alice",
            "--ttl",
            "5m",
            "--link",
            "--listen",
            "0.0.0.0:9000",
            "--jwt-secret",
            TEST_SECRET,
            "--jwt-issuer",
            "https://id.example.com",
            "--jwt-audience",
            "tally",
            "--data-dir",
            "{root}/token",
        ],
        "http://127.0.0.1:9000/#token=ey",
    ),
    (
        &["token", "--user", "alice", "--jwt-public-key-file", "{pem}"],
        "can only mint tokens for an HS256 secret",
    ),
    (
        &[
            "rebuild",
            "--projection",
            "trend",
            "--data-dir",
            "{root}/rebuild",
            "--database-url",
            "sqlite://{root}/rebuild.db",
            "--sqlite-sync",
            "normal",
            "--database-direct-url",
            "postgres://postgres@127.0.0.1/postgres",
        ],
        "rebuilt up to position 0",
    ),
    (
        &[
            "verify",
            "--repair",
            "--data-dir",
            "{root}/verify",
            "--database-url",
            "sqlite://{root}/verify.db",
            "--sqlite-sync",
            "normal",
            "--database-direct-url",
            "postgres://postgres@127.0.0.1/postgres",
        ],
        "no drift",
    ),
    (
        &[
            "seed",
            "--users",
            "2",
            "--tasks",
            "3",
            "--data-dir",
            "{root}/seed",
            "--database-url",
            "sqlite://{root}/seed.db",
            "--sqlite-sync",
            "normal",
            "--database-direct-url",
            "postgres://postgres@127.0.0.1/postgres",
        ],
        "seeded 6 tasks",
    ),
    (
        &[
            "seed",
            "--users",
            "3",
            "--tasks",
            "1",
            "--teams",
            "2",
            "--team-size",
            "2",
            "--data-dir",
            "{root}/seed-teams",
            "--database-url",
            "sqlite://{root}/seed-teams.db",
        ],
        "seeded 2 teams with 4 commands",
    ),
    (
        &[
            "mcp",
            "--user",
            "alice",
            "--data-dir",
            "{root}/mcp",
            "--database-url",
            "sqlite://{root}/mcp.db",
            "--sqlite-sync",
            "normal",
            "--database-direct-url",
            "postgres://postgres@127.0.0.1/postgres",
        ],
        // Its stdin is empty: the client is gone before it said hello.
        "the session ended before the client initialized it",
    ),
];

/// Invalid flags of the other subcommands, and a fragment of what is expected.
pub const REFUSED: &[(&[&str], &str)] = &[
    (&["token", "--user", "alice", "--ttl", "1y"], "s, m, h or d"),
    (
        &["token", "--user", "alice", "--listen", "nowhere"],
        "HOST:PORT",
    ),
    (&["rebuild", "--projection", "everything"], "trend"),
    (&["seed", "--users", "many"], "invalid digit"),
    (&["migrate", "--sqlite-sync", "fast"], "full, normal"),
    (
        &["mcp", "--user", ".."],
        "a user id must be usable as a path segment",
    ),
];
