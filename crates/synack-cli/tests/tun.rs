//! `synack tun` against the Linux kernel's TCP, run as a process.
//!
//! Each test creates its own network namespace (`snk{pid}x{n}`); `synack
//! tun` opens its TUN device (`skc{pid}x{n}`) in it with `--netns`, the
//! kernel's side 10.77.0.1/24, synack 10.77.0.2. The kernel's programs
//! (python3's socket module and http.server, ss) run inside the namespace;
//! all traffic stays in it. Everything is removed on drop, also when a test
//! fails: `synack` and the kernel's programs are killed by PID, then the
//! namespace is deleted, which deletes the device.
//!
//! Needs root, `/dev/net/tun` and the programs in `TOOLS` (`.ci/run`
//! installs them). A test that cannot set up FAILS with the reason under CI
//! (`CI` set); elsewhere it prints a loud `SKIPPED: <test>: <reason>` line
//! on stderr and returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use synack::test_util::netns::{cannot_run, cannot_set_up, unique_name, Netns};

const TOOLS: [&str; 4] = ["ip", "python3", "ss", "timeout"];

/// A namespace for one test, or `None` when it cannot be set up here
/// (after a SKIPPED line; under CI it fails instead).
fn namespace() -> Option<Netns> {
    if let Some(why) = cannot_run(&TOOLS) {
        cannot_set_up(&why);
        return None;
    }
    Some(Netns::create_unique().expect("create namespace"))
}

/// Start a kernel program in the namespace (killed when it is dropped).
fn kernel(ns: &mut Netns, args: &[&str]) {
    let mut cmd = ns.command("python3");
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    ns.spawn(&mut cmd).expect("start python3");
}

/// Wait until the kernel listens on `needle` (e.g. `0.0.0.0:9100`).
fn wait_listen(ns: &Netns, needle: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        let out = ns.run("ss", &["-tln"]).expect("ss");
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {needle}");
}

/// `synack tun CMD ARGS --netns NS --dev NEW`, started with its standard
/// streams piped; killed when the namespace is dropped.
struct Synack {
    index: usize,
    stdout: JoinHandle<Vec<u8>>,
    stderr_lines: mpsc::Receiver<String>,
}

fn start(ns: &mut Netns, cmd: &str, args: &[&str]) -> Synack {
    let mut c = Command::new(env!("CARGO_BIN_EXE_synack"));
    c.args(["tun", cmd])
        .args(args)
        .args(["--netns", ns.name(), "--dev", &unique_name("skc")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let index = ns.spawn(&mut c).expect("start synack");
    let child = ns.child(index).expect("child");
    let mut out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let (tx, stderr_lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("synack: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Synack {
        index,
        stdout,
        stderr_lines,
    }
}

impl Synack {
    fn child<'a>(&self, ns: &'a mut Netns) -> &'a mut Child {
        ns.child(self.index).expect("child")
    }

    /// Wait for a line on its stderr containing `needle`.
    fn wait_stderr(&self, needle: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.stderr_lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("synack never said {needle:?}");
    }

    /// The next `n` lines on its stderr containing `needle` (waiting up
    /// to 30 s for them).
    fn lines_with(&self, needle: &str, n: usize) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.len() < n {
            let left = end.checked_duration_since(Instant::now());
            match left.map(|l| self.stderr_lines.recv_timeout(l)) {
                Some(Ok(l)) if l.contains(needle) => got.push(l),
                Some(Ok(_)) => {}
                _ => panic!("synack said {needle:?} {} times of {n}", got.len()),
            }
        }
        got
    }

    /// Wait up to `secs` for it to end; its status and standard output.
    fn finish(self, ns: &mut Netns, secs: u64) -> (ExitStatus, Vec<u8>) {
        let end = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.child(ns).try_wait().expect("try_wait") {
                break s;
            }
            assert!(
                Instant::now() < end,
                "synack tun still running after {secs} s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.stdout.join().expect("stdout reader"))
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// Accept one connection, send `argv[2]` bytes of the pattern and close.
const PY_SEND_AND_CLOSE: &str = r#"
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('0.0.0.0', int(sys.argv[1]))); l.listen()
c, _ = l.accept()
c.sendall(bytes(i * 31 % 251 for i in range(int(sys.argv[2]))))
c.close()
"#;

/// Accept one connection, read to its FIN, answer with what came and close.
const PY_ANSWER_AFTER_FIN: &str = r#"
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('0.0.0.0', int(sys.argv[1]))); l.listen()
c, _ = l.accept()
got = b''
while True:
    b = c.recv(65536)
    if not b:
        break
    got += b
c.sendall(b'answer: ' + got)
c.close()
"#;

/// Like ncat: the peer's FIN ends `connect` once everything it sent is
/// on standard output, although standard input is still open.
#[test]
fn connect_ends_when_the_peer_closes_with_stdin_still_open() {
    let Some(mut ns) = namespace() else { return };
    let size = 1 << 20;
    kernel(
        &mut ns,
        &["-c", PY_SEND_AND_CLOSE, "9100", &size.to_string()],
    );
    wait_listen(&ns, "0.0.0.0:9100");
    let s = start(&mut ns, "connect", &["10.77.0.1:9100"]);
    // Held open, never written, until the command has ended.
    let stdin = s.child(&mut ns).stdin.take().expect("stdin");
    let (status, out) = s.finish(&mut ns, 30);
    drop(stdin);
    assert!(status.success(), "synack tun connect: {status}");
    assert_eq!(out.len(), size, "bytes on standard output");
    assert!(
        out == pattern(size),
        "standard output differs from what was sent"
    );
}

/// The end of standard input becomes synack's FIN; the answer the peer
/// sends after it still arrives.
#[test]
fn connect_sends_stdin_then_its_end_as_fin() {
    let Some(mut ns) = namespace() else { return };
    kernel(&mut ns, &["-c", PY_ANSWER_AFTER_FIN, "9101"]);
    wait_listen(&ns, "0.0.0.0:9101");
    let s = start(&mut ns, "connect", &["10.77.0.1:9101"]);
    let mut stdin = s.child(&mut ns).stdin.take().expect("stdin");
    stdin.write_all(b"question").expect("write stdin");
    drop(stdin);
    let (status, out) = s.finish(&mut ns, 30);
    assert!(status.success(), "synack tun connect: {status}");
    assert_eq!(String::from_utf8_lossy(&out), "answer: question");
}

#[test]
fn serve_echo_answers_a_kernel_client() {
    let Some(mut ns) = namespace() else { return };
    let s = start(
        &mut ns,
        "serve",
        &["echo", "--port", "7007", "--count", "1"],
    );
    s.wait_stderr("serving echo on 10.77.0.2:7007");
    let py = r#"
import socket
s = socket.create_connection(('10.77.0.2', 7007), timeout=10)
msg = bytes(range(256)) * 400
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
got = b''
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print('ok' if got == msg else 'mismatch %d' % len(got))
"#;
    let out = ns
        .run("timeout", &["30", "python3", "-c", py])
        .expect("python3 client");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let (status, _) = s.finish(&mut ns, 10);
    assert!(status.success(), "synack tun serve: {status}");
}

#[test]
fn get_fetches_from_a_kernel_http_server() {
    let Some(mut ns) = namespace() else { return };
    let dir = std::env::temp_dir().join(unique_name("skg"));
    std::fs::create_dir_all(&dir).expect("dir");
    let body = pattern(100_000);
    std::fs::write(dir.join("blob.bin"), &body).expect("file");
    let d = dir.to_string_lossy().into_owned();
    kernel(
        &mut ns,
        &[
            "-m",
            "http.server",
            "8000",
            "--bind",
            "0.0.0.0",
            "--directory",
            &d,
        ],
    );
    wait_listen(&ns, "0.0.0.0:8000");
    let s = start(&mut ns, "get", &["http://10.77.0.1:8000/blob.bin"]);
    let (status, out) = s.finish(&mut ns, 30);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "synack tun get: {status}");
    assert!(out == body, "body differs ({} bytes)", out.len());
}

/// The number of whole records in a little-endian pcap file, or `None` when
/// its header or a record is cut short.
fn pcap_records(bytes: &[u8]) -> Option<usize> {
    if bytes.get(..4)? != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    let (mut at, mut n) = (24, 0);
    while at < bytes.len() {
        let len = bytes.get(at + 8..at + 12)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        at += 16 + len;
        if at > bytes.len() {
            return None;
        }
        n += 1;
    }
    Some(n)
}

#[test]
fn serve_stopped_by_a_signal_leaves_its_pcap_whole() {
    for (signal, port) in [("-INT", "7008"), ("-TERM", "7009")] {
        let Some(mut ns) = namespace() else { return };
        let path = std::env::temp_dir().join(format!("{}.pcap", unique_name("skp")));
        let p = path.to_string_lossy().into_owned();
        // No --count: it serves until stopped.
        let s = start(&mut ns, "serve", &["echo", "--port", port, "--pcap", &p]);
        s.wait_stderr(&format!("serving echo on 10.77.0.2:{port}"));
        let py = format!(
            "import socket\ns = socket.create_connection(('10.77.0.2', {port}), timeout=10)\ns.sendall(b'hello')\nprint('ok' if s.recv(5) == b'hello' else 'mismatch')\ns.close()\n"
        );
        let out = ns
            .run("timeout", &["30", "python3", "-c", &py])
            .expect("python3 client");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
        let pid = s.child(&mut ns).id().to_string();
        let killed = Command::new("kill").args([signal, &pid]).status();
        assert!(killed.is_ok_and(|k| k.success()), "kill {signal} {pid}");
        let (status, _) = s.finish(&mut ns, 10);
        assert!(!status.success(), "stopped by {signal}: {status}");
        let bytes = std::fs::read(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        // SYN, SYN,ACK, ACK, the data, its echo, their ACKs and the close.
        let records = pcap_records(&bytes);
        assert!(
            records.is_some_and(|n| n >= 6),
            "{signal}: {} bytes, {records:?} whole records",
            bytes.len()
        );
    }
}

fn sysctl(ns: &Netns, setting: &str) {
    let out = ns.run("sysctl", &["-w", setting]).expect("sysctl");
    assert!(out.status.success(), "sysctl -w {setting} failed");
}

/// `serve --fastopen`: a Linux client with Fast Open on (0x1) asks for a
/// cookie on its first connection and sends its data on the SYN of the
/// second, which synack reports as used.
#[test]
fn serve_fastopen_takes_data_on_the_syn_of_a_kernel_client() {
    let Some(mut ns) = namespace() else { return };
    sysctl(&ns, "net.ipv4.tcp_fastopen=1");
    let s = start(
        &mut ns,
        "serve",
        &["echo", "--port", "7010", "--count", "2", "--fastopen"],
    );
    s.wait_stderr("serving echo on 10.77.0.2:7010 with Fast Open (queue 16)");
    let py = r#"
import socket
for i in range(2):
    s = socket.socket()
    s.sendto(b'hello', socket.MSG_FASTOPEN, ('10.77.0.2', 7010))
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    got = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    print(got.decode())
"#;
    let out = ns
        .run("timeout", &["30", "python3", "-c", py])
        .expect("python3 client");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nhello\n");
    let conns = s.lines_with("connection from", 2);
    assert!(!conns[0].contains("(Fast Open: used"), "{conns:?}");
    assert!(
        conns[1].contains("(Fast Open: used, data on the SYN)"),
        "{conns:?}"
    );
    let (status, _) = s.finish(&mut ns, 10);
    assert!(status.success(), "synack tun serve: {status}");
}

/// Answer each connection's first read with "re:" and it, then close: a
/// Linux Fast Open server (queue 16).
const PY_TFO_ANSWER: &str = r#"
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
l.bind(('0.0.0.0', int(sys.argv[1]))); l.listen()
while True:
    c, _ = l.accept()
    c.sendall(b're:' + c.recv(65536))
    c.close()
"#;

/// `connect --fastopen --fastopen-cache FILE` against a Linux Fast Open
/// server (0x2): the first run asks for a cookie and saves it; the second,
/// a new process, reads it back and sends its data on the SYN.
#[test]
fn connect_fastopen_keeps_its_cookie_between_runs() {
    let Some(mut ns) = namespace() else { return };
    sysctl(&ns, "net.ipv4.tcp_fastopen=2");
    kernel(&mut ns, &["-c", PY_TFO_ANSWER, "9102"]);
    wait_listen(&ns, "0.0.0.0:9102");
    let cache = std::env::temp_dir().join(unique_name("skf"));
    let c = cache.to_string_lossy().into_owned();
    let mut said = Vec::new();
    for _ in 0..2 {
        let s = start(
            &mut ns,
            "connect",
            &["10.77.0.1:9102", "--fastopen", "--fastopen-cache", &c],
        );
        let mut stdin = s.child(&mut ns).stdin.take().expect("stdin");
        stdin.write_all(b"question").expect("write stdin");
        drop(stdin);
        said.push(s.lines_with("Fast Open:", 1).remove(0));
        let (status, out) = s.finish(&mut ns, 30);
        assert!(status.success(), "synack tun connect: {status}");
        assert_eq!(String::from_utf8_lossy(&out), "re:question");
    }
    let saved = std::fs::read_to_string(&cache).unwrap_or_default();
    let _ = std::fs::remove_file(&cache);
    assert!(
        said[0].ends_with("Fast Open: not used, a cookie was asked for"),
        "{said:?}"
    );
    assert!(
        said[1].ends_with("Fast Open: used, data on the SYN"),
        "{said:?}"
    );
    let words: Vec<&str> = saved.split_whitespace().collect();
    assert_eq!(words.len(), 2, "{saved:?}");
    assert_eq!(words[0], "10.77.0.1");
    assert_eq!(
        words[1].len(),
        16,
        "Linux's 8-byte cookie in hex: {saved:?}"
    );
}
