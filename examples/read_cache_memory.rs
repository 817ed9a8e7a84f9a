//! What a dashboard row kept in memory costs, and whether the budget holds with a million
//! users: fills a `ReadCache` with realistic rows (uuid user ids, every counter set) and reads
//! the process's resident memory before and after (Linux `/proc/self/statm`).
//!
//!     cargo run --release --example read_cache_memory [USERS] [BUDGET_MB]
//!
//! A budget of 0 keeps every user, to measure a row; run each case in a process of its own
//! (memory freed by one case would be reused by the next, unmeasured).

use projections::{Bucket, DashboardStats};
use tally::live::read_cache::{BYTES_PER_ROW, ReadCache};

fn main() {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().map_or(1_000_000, |n| n.parse().expect("USERS"));
    let budget_mb: u64 = args.next().map_or(64, |n| n.parse().expect("BUDGET_MB"));

    let before = resident();
    if budget_mb == 0 {
        // Room for every user: what each row really costs.
        let cache = ReadCache::new(users as u64 * 1024);
        fill(&cache, users);
        let per_row = (resident() - before) as f64 / users as f64;
        println!(
            "{users} rows kept: {per_row:.0} bytes each, resident (weighed at {BYTES_PER_ROW} + the id)"
        );
        return;
    }
    let budget = budget_mb << 20;
    let cache = ReadCache::new(budget);
    fill(&cache, users);
    let (rows, weight) = cache.usage();
    println!(
        "budget {budget_mb} MiB, {users} users read: {rows} rows kept, weighing {:.1} MiB, \
         resident growth {:.1} MiB",
        weight as f64 / 1048576.0,
        resident().saturating_sub(before) as f64 / 1048576.0
    );
    assert!(weight <= budget, "the weight exceeds the budget");
}

fn fill(cache: &ReadCache, users: usize) {
    for n in 0..users {
        let user = uuid::Uuid::from_u128(n as u128 + 1).to_string();
        let bucket = Bucket {
            key: 20_000,
            count: n as i64,
        };
        let row = DashboardStats {
            user_id: user.clone(),
            pending: 3,
            completed: 5,
            shared_view: 1,
            shared_edit: 2,
            created_day: bucket,
            created_week: bucket,
            completed_day: bucket,
            completed_week: bucket,
        };
        let begun = cache.begin(1);
        cache.keep(&user, Some(row), begun);
    }
}

/// Resident bytes of this process.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
