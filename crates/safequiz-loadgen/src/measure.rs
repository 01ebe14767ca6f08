//! CPU and memory of the processes under test, read around a measured window.

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat` (`CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of process `pid` (all its threads), µs.
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
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    Ok((ticks(11) + ticks(12)) * 1_000_000 / TICKS_PER_SECOND)
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
