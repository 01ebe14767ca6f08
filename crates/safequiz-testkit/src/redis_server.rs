//! A real redis-server on a free loopback port, in a temporary folder, killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running redis-server owned by a test.
pub struct RedisServer {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl RedisServer {
    /// Starts redis-server with AOF on (`appendfsync everysec`, as in production) and waits until
    /// it answers `PING`.
    ///
    /// Panics with the fix when `redis-server` is not installed.
    pub fn start() -> RedisServer {
        for _ in 0..5 {
            let port = crate::free_port();
            let dir = tempfile::tempdir().expect("a temporary folder can be created");
            let child = spawn(port, dir.path(), &[]);
            let mut server = RedisServer {
                port,
                child,
                _dir: dir,
            };
            if server.wait_until_ready(Duration::from_secs(10)) {
                return server;
            }
            // The port was taken between choosing and binding it: try another.
            let _ = server.child.kill();
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server now (to test behaviour while Redis is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_ready(&mut self, within: Duration) -> bool {
        wait_until_ready(&mut self.child, self.port, within)
    }
}

/// Starts redis-server on `port` with its data in `dir`, AOF on (`appendfsync everysec`, as in
/// production), no RDB snapshots, and the `extra` arguments.
///
/// Panics with the fix when `redis-server` is not installed.
pub(crate) fn spawn(port: u16, dir: &Path, extra: &[&str]) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "yes", "--appendfsync", "everysec"])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run redis-server ({error}); the README's test command installs it")
        })
}

/// Waits until the server on `port` answers `PING`; false when it exited or `within` passed.
pub(crate) fn wait_until_ready(child: &mut Child, port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if ping(port) {
            return true;
        }
        // A process start, not a condition another task signals: polled every 10 ms.
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Whether a Redis server on `port` answers `PING` with `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
