//! Two kernel network namespaces joined by a veth pair, tcpdump on the
//! server's side, and Python scripts driving the kernel's TCP in each: the
//! bench on which the kernel capture tests record real connections.
//!
//! Needs root (namespaces, veth, tcpdump). All traffic stays inside the two
//! namespaces, which are removed on drop, also when a test fails; every
//! program runs under `timeout`.
#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use synack::test_util::netns::{have, unique_name, Netns};
use synack_capture::{explain_bytes, Config, Run};

/// The client's address on the veth link.
pub const CLIENT: &str = "10.78.0.1";
/// The server's address on the veth link.
pub const SERVER: &str = "10.78.0.2";

/// Why the kernel capture tests cannot run here, if they cannot.
pub fn cannot_run() -> Option<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Some("not running as root: namespaces, veth and tcpdump need CAP_NET_ADMIN".into());
    }
    for t in ["ip", "tcpdump", "python3", "ss", "timeout"] {
        if !have(t) {
            return Some(format!(
                "`{t}` is not on PATH (.ci/run installs tcpdump and iproute2)"
            ));
        }
    }
    None
}

/// Whether the calling test must stop here: it cannot run, and under CI
/// that fails it; elsewhere a loud SKIPPED line.
pub fn skip(what: &str) -> bool {
    let Some(why) = cannot_run() else {
        return false;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} cannot set up under CI: {why}");
    }
    eprintln!("\n**********\nSKIPPED {what}: {why}\n**********\n");
    true
}

/// The two namespaces, their link and a scratch directory.
pub struct Lab {
    /// The client's namespace.
    pub client: Netns,
    /// The server's namespace.
    pub server: Netns,
    dir: PathBuf,
}

impl Lab {
    /// A scratch directory both namespaces see, removed with the lab.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new lab: [`CLIENT`] and [`SERVER`] on a /24 between two namespaces.
pub fn lab() -> Lab {
    let client = Netns::create_unique().expect("client namespace");
    let server = Netns::create_unique().expect("server namespace");
    let (a, b) = (unique_name("sva"), unique_name("svb"));
    synack::test_util::netns::ip(&[
        "link",
        "add",
        &a,
        "netns",
        client.name(),
        "type",
        "veth",
        "peer",
        "name",
        &b,
        "netns",
        server.name(),
    ])
    .expect("veth pair");
    client
        .ip(&["addr", "add", &format!("{CLIENT}/24"), "dev", &a])
        .expect("address");
    server
        .ip(&["addr", "add", &format!("{SERVER}/24"), "dev", &b])
        .expect("address");
    client.ip(&["link", "set", &a, "up"]).expect("up");
    server.ip(&["link", "set", &b, "up"]).expect("up");
    let dir = std::env::temp_dir().join(unique_name("sxc"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Lab {
        client,
        server,
        dir,
    }
}

/// Ends a program started under `timeout` when dropped, also when the test
/// fails: SIGTERM to `timeout`, which passes it on to the program (a SIGKILL
/// would leave the program running without its time limit).
struct Stop(u32);

impl Drop for Stop {
    fn drop(&mut self) {
        if self.0 == 0 {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Poll `ok` every 50 ms for up to `secs` seconds; fail the test after.
pub fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a recorded run gives back.
pub struct Recorded {
    /// synack's explanation of the capture.
    pub run: Run,
    /// What the client script printed.
    pub client_out: String,
    /// What the server script printed (it must end on its own).
    pub server_out: String,
}

/// Record a run: tcpdump on the server's veth, the server script started,
/// then the client script run to its end (it must print `done`), then
/// `after` (still capturing), then the server's end awaited and the capture
/// explained.
pub fn record(
    lab: &mut Lab,
    server_py: &str,
    client_py: &str,
    after: impl FnOnce(&Lab),
) -> Recorded {
    let file = lab.dir.join("cap.pcap");
    let dev = lab
        .server
        .ip(&["-o", "link", "show", "type", "veth"])
        .expect("veth name");
    let dev = String::from_utf8_lossy(&dev.stdout)
        .split(':')
        .nth(1)
        .and_then(|s| s.trim().split('@').next().map(str::to_owned))
        .expect("veth in the server namespace");
    let file_s = file.to_string_lossy().into_owned();
    let err = lab.dir.join("tcpdump.log");
    let mut dump = lab.server.command("timeout");
    dump.args([
        "60",
        "tcpdump",
        "--immediate-mode",
        "-Z",
        "root",
        "-U",
        // A full snap length makes each slot of the capture ring 256 KiB:
        // the default 2 MiB ring then holds 8 packets and a burst is lost
        // ("dropped by kernel"). 32 MiB holds 128.
        "-B",
        "32768",
        "-s",
        "0",
        "-i",
        &dev,
        "-w",
        &file_s,
        "tcp",
    ])
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&err).expect("tcpdump's log"));
    let dump = lab.server.spawn(&mut dump).expect("tcpdump");
    let stop_dump = Stop(lab.server.child(dump).map_or(0, |c| c.id()));
    wait_for("tcpdump to open its file", 10, || file.exists());
    std::thread::sleep(Duration::from_millis(500));
    let mut srv = lab.server.command("timeout");
    srv.args(["30", "python3", "-c", server_py])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let srv = lab.server.spawn(&mut srv).expect("server");
    let stop_srv = Stop(lab.server.child(srv).map_or(0, |c| c.id()));
    std::thread::sleep(Duration::from_millis(500));
    let out = lab
        .client
        .run("timeout", &["30", "python3", "-c", client_py])
        .expect("client script runs to the end");
    let client_out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(client_out.contains("done"), "{client_out}");
    after(lab);
    // The server ends on its own once its connections are done.
    let mut server_out = String::new();
    if let Some(c) = lab.server.child(srv) {
        if let Some(mut o) = c.stdout.take() {
            let _ = o.read_to_string(&mut server_out);
        }
        let _ = c.wait();
    }
    // Reaped: its PID may be reused, so it must not be signalled again.
    std::mem::forget(stop_srv);
    std::thread::sleep(Duration::from_millis(300));
    if let Some(pid) = lab.server.child(dump).map(|c| c.id()) {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    }
    if let Some(c) = lab.server.child(dump) {
        let _ = c.wait();
    }
    std::mem::forget(stop_dump);
    // A capture that lost packets would be explained as losses that never
    // happened on the link.
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump lost packets or did not report: {log}"
    );
    let bytes = std::fs::read(&file).expect("the capture");
    let run = explain_bytes(&bytes, Config::default()).expect("tcpdump's capture reads");
    Recorded {
        run,
        client_out,
        server_out,
    }
}
