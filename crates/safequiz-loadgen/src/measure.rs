//! CPU and memory of the processes under test, read around a measured window.

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat` (`CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of process `pid` (all its threads) and of the children it has
/// waited for, µs. Redis forks a child for each AOF rewrite and reaps it when it ends: the
/// rewrites are part of what AOF costs, and take the same cores (the SQL side counts the
/// postmaster's reaped backends alike, `loadtest/sql/run`). A rewrite is counted in the window
/// in which it ends. The other processes measured fork nothing.
pub fn process_cpu_micros(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name may hold spaces; fields are counted after its closing parenthesis.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime, stime, cutime and cstime are fields 14 to 17 of the whole line, 12 to 15 after
    // the name.
    Ok((ticks(11) + ticks(12) + ticks(13) + ticks(14)) * 1_000_000 / TICKS_PER_SECOND)
}

/// Resident memory of process `pid`, bytes.
pub fn process_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(kb * 1024)
}

/// A Redis server's counters.
pub struct RedisProbe {
    connection: redis::Connection,
}

impl RedisProbe {
    /// Connects to `url`.
    pub fn connect(url: &str) -> anyhow::Result<RedisProbe> {
        let connection = redis::Client::open(url)?.get_connection()?;
        Ok(RedisProbe { connection })
    }

    fn info(&mut self, section: &str) -> anyhow::Result<String> {
        Ok(redis::cmd("INFO")
            .arg(section)
            .query(&mut self.connection)?)
    }

    fn field(info: &str, name: &str) -> f64 {
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// User plus system CPU of the server, µs.
    pub fn cpu_micros(&mut self) -> anyhow::Result<u64> {
        let info = self.info("cpu")?;
        let seconds = Self::field(&info, "used_cpu_user") + Self::field(&info, "used_cpu_sys");
        Ok((seconds * 1e6) as u64)
    }

    /// `used_memory` less the streams, bytes: the streams grow and are trimmed by the flusher
    /// while we weigh, so they are left out of the hot state's weight.
    pub fn used_memory_outside_streams(&mut self) -> anyhow::Result<u64> {
        let info = self.info("memory")?;
        let used = Self::field(&info, "used_memory") as u64;
        let streams: Vec<String> = redis::cmd("KEYS")
            .arg("*:stream")
            .query(&mut self.connection)?;
        let mut in_streams = 0u64;
        for key in streams {
            let bytes: Option<u64> = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .arg("SAMPLES")
                .arg(0)
                .query(&mut self.connection)?;
            in_streams += bytes.unwrap_or(0);
        }
        Ok(used.saturating_sub(in_streams))
    }

    /// Zeroes `INFO commandstats`.
    pub fn reset_stats(&mut self) -> anyhow::Result<()> {
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut self.connection)?;
        Ok(())
    }

    /// `(calls, µs per call)` of each command since the last reset.
    pub fn command_stats(&mut self) -> anyhow::Result<Vec<(String, u64, f64)>> {
        let info = self.info("commandstats")?;
        Ok(info
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let value = |key: &str| {
                    rest.split(',')
                        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(0.0)
                };
                Some((
                    name.to_owned(),
                    value("calls") as u64,
                    value("usec_per_call"),
                ))
            })
            .collect())
    }
}

/// The p-th percentile (0-100) of sorted `values`.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::process_cpu_micros;

    /// A child's CPU is counted once it has been waited for, as Redis's AOF rewrites are.
    #[test]
    fn a_reaped_childs_cpu_is_counted() {
        let me = std::process::id();
        let before = process_cpu_micros(me).expect("own stat");
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let after = process_cpu_micros(me).expect("own stat");
        // The loop takes the shell a few hundred ms of CPU, and this thread waited meanwhile.
        assert!(
            after - before >= 50_000,
            "the child's CPU was not counted: {} µs",
            after - before
        );
    }
}
