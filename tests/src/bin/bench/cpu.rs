//! Where a phase's CPU time goes, by process: this one (the load's clients), the API and
//! worker processes it started, Postgres (every backend) and Redis, read from
//! `/proc/<pid>/stat` before and after. On two cores the parts compete for the same
//! cycles, so the CPU each spends per job is what bounds throughput.

use std::time::Duration;

/// CPU time (user and system) spent so far by this process, by each child named, by
/// Postgres and by Redis.
#[derive(Clone, Default)]
pub struct Snapshot {
    own: Duration,
    children: Vec<(&'static str, u32, Duration)>,
    postgres: Duration,
    redis: Duration,
}

/// The clock ticks a second of `/proc/<pid>/stat` (Linux's `USER_HZ`).
const TICKS: u64 = 100;

fn cpu_of(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command, which is parenthesised and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (user, system): (u64, u64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some(Duration::from_millis((user + system) * 1000 / TICKS))
}

/// The CPU spent so far by this process, by `children` (a name and a pid each), by every
/// Postgres process and by Redis.
pub fn snapshot(children: &[(&'static str, u32)]) -> Snapshot {
    let mut snapshot = Snapshot {
        own: cpu_of("self").unwrap_or_default(),
        children: children
            .iter()
            .map(|&(name, pid)| (name, pid, cpu_of(&pid.to_string()).unwrap_or_default()))
            .collect(),
        ..Default::default()
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return snapshot;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        match comm.trim() {
            "postgres" => snapshot.postgres += cpu_of(pid).unwrap_or_default(),
            "redis-server" => snapshot.redis += cpu_of(pid).unwrap_or_default(),
            _ => {}
        }
    }
    snapshot
}

/// `  cpu per <unit>: ...` for `n` units done between `before` and now.
pub fn per(before: Snapshot, n: usize, unit: &str) -> String {
    let pids: Vec<(&'static str, u32)> = before
        .children
        .iter()
        .map(|&(name, pid, _)| (name, pid))
        .collect();
    let now = snapshot(&pids);
    let each = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let mut parts = vec![("clients", each(now.own.saturating_sub(before.own)))];
    for (&(name, _, was), &(_, _, is)) in before.children.iter().zip(&now.children) {
        parts.push((name, each(is.saturating_sub(was))));
    }
    parts.push((
        "postgres",
        each(now.postgres.saturating_sub(before.postgres)),
    ));
    parts.push(("redis", each(now.redis.saturating_sub(before.redis))));
    let total: f64 = parts.iter().map(|(_, us)| us).sum();
    let spent: f64 = parts
        .iter()
        .filter(|(name, _)| *name != "clients")
        .map(|(_, us)| us)
        .sum();
    let list = parts
        .iter()
        .map(|(name, us)| format!("{name} {us:.0}"))
        .collect::<Vec<_>>()
        .join(" + ");
    format!(
        "  cpu per {unit}: {total:.0} us in all = {list} us\n  cpu per {unit} without the load's clients: {spent:.0} us"
    )
}
