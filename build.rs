//! Tells the integration tests whether they can reach PostgreSQL, so that its half of
//! `on_both_backends!` is reported as ignored (with the reason) instead of passing without
//! running when it cannot.
//!
//! PostgreSQL is available when `TALLY_TEST_POSTGRES_URL` is set, or when its server binaries
//! (`initdb` and `postgres`) are on `PATH` or under `/usr/lib/postgresql/<version>/bin/` — the
//! tests then start a throwaway server (see tests/api/support/database.rs, which applies the
//! same rule at run time). Otherwise this emits `cfg(postgres_unavailable)`, except under `CI`,
//! where the PostgreSQL tests must run and fail instead. The build itself never fails.
//!
//! Likewise the page's browser tests need Chromium and ChromeDriver (Debian's `chromium` and
//! `chromium-driver`): without them this emits `cfg(browser_unavailable)`, except under `CI` or
//! `TALLY_TEST_BROWSER=required`.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    detect_postgres();
    detect_browser();
    detect_immutable_files();
}

/// Whether a file can be made immutable (`chattr +i`: root, and a file system with the flag),
/// which the test of an SQLite file that cannot be written needs: as root, a file's mode
/// stops no write. Tried on a file in the temporary folder, where the tests keep theirs.
fn detect_immutable_files() {
    println!("cargo::rustc-check-cfg=cfg(immutable_files_unavailable)");
    let probe = env::temp_dir().join(format!("tally-build-immutable-{}", std::process::id()));
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&probe)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let works = std::fs::write(&probe, b"").is_ok() && chattr("+i") && chattr("-i");
    let _ = std::fs::remove_file(&probe);
    // Under CI the test runs (and fails) rather than being reported as ignored.
    if !works && env::var_os("CI").is_none() {
        println!("cargo::rustc-cfg=immutable_files_unavailable");
    }
}

/// Chromium and its driver where the browser tests look for them.
fn detect_browser() {
    println!("cargo::rustc-check-cfg=cfg(browser_unavailable)");
    println!("cargo::rerun-if-env-changed=TALLY_TEST_BROWSER");
    println!("cargo::rerun-if-env-changed=TALLY_TEST_CHROMEDRIVER");
    let driver = env::var("TALLY_TEST_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
    let required =
        env::var_os("CI").is_some() || env::var("TALLY_TEST_BROWSER").as_deref() == Ok("required");
    if Path::new(&driver).is_file() {
        // Re-detect when it is removed.
        println!("cargo::rerun-if-changed={driver}");
        return;
    }
    if required {
        return;
    }
    println!("cargo::rustc-cfg=browser_unavailable");
    if env::var("PROFILE").as_deref() == Ok("debug") {
        println!(
            "cargo::warning=ChromeDriver is not installed ({driver}): the browser tests of the \
             page will be ignored. `apt-get install chromium chromium-driver`, then `touch build.rs`."
        );
    }
}

fn detect_postgres() {
    println!("cargo::rustc-check-cfg=cfg(postgres_unavailable)");
    println!("cargo::rerun-if-env-changed=TALLY_TEST_POSTGRES_URL");
    if env::var_os("TALLY_TEST_POSTGRES_URL").is_some() {
        return;
    }
    if let Some(bin) = postgres_binaries() {
        // Re-detect when they are removed or upgraded.
        println!("cargo::rerun-if-changed={}", bin.join("postgres").display());
        return;
    }
    if env::var_os("CI").is_some() {
        // Under CI the tests run anyway and fail, saying that PostgreSQL is mandatory there.
        return;
    }
    println!("cargo::rustc-cfg=postgres_unavailable");
    if env::var("PROFILE").as_deref() == Ok("debug") {
        println!(
            "cargo::warning=PostgreSQL is not available: the PostgreSQL integration tests will be \
             ignored. Install its server binaries (initdb, postgres) or set \
             TALLY_TEST_POSTGRES_URL; after installing, `touch build.rs` to detect them."
        );
    }
}

/// The folder holding both `initdb` and `postgres`: the first on `PATH`, else the highest
/// version under `/usr/lib/postgresql`. Running as root, a `postgres` user must also exist
/// (initdb refuses to run as root).
fn postgres_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let on_path = env::var_os("PATH")
        .into_iter()
        .flat_map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| has_both(dir));
    if !cfg!(unix) {
        return None; // the throwaway server is started with a POSIX shell
    }
    let found = on_path.or_else(|| {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = version_key(&entry.file_name().to_string_lossy())?;
                let bin = entry.path().join("bin");
                has_both(&bin).then_some((version, bin))
            })
            .max()
            .map(|(_, bin)| bin)
    })?;
    (!running_as_root() || postgres_user_exists()).then_some(found)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; `None` for names that are not versions.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}

fn postgres_user_exists() -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|passwd| passwd.lines().any(|line| line.starts_with("postgres:")))
}
