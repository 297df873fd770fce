//! `synack explain`, run as a process on the pcap files `synack scenario
//! --pcap` writes: from a file and from standard input, in every format
//! and both languages, and on bad input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run synack")
}

fn out(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

struct Tmp(PathBuf);

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn capture(scenario: &str) -> (Tmp, String) {
    let dir =
        std::env::temp_dir().join(format!("synack-explain-{}-{scenario}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("cap.pcap").to_string_lossy().into_owned();
    let o = synack(&["scenario", scenario, "--pcap", &file]);
    assert!(o.status.success(), "scenario {scenario}");
    (Tmp(dir), file)
}

#[test]
fn explains_a_file_and_standard_input_alike() {
    let (_t, file) = capture("teardown");
    let o = synack(&["explain", &file]);
    assert!(o.status.success());
    let text = out(&o);
    for want in [
        "CLOSED → SYN_SENT",
        "LISTEN → SYN_RCVD",
        "FIN_WAIT_2 → TIME_WAIT",
        "LAST_ACK → CLOSED",
        "TIME_WAIT held by client",
        "server port 10.0.0.2:80",
        "A capture sees each segment once",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run synack");
    let bytes = std::fs::read(&file).expect("pcap");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // A few bytes at a time, as a live tcpdump would write them.
        for chunk in bytes.chunks(7) {
            stdin.write_all(chunk).expect("write");
            stdin.flush().expect("flush");
        }
    }
    let piped = child.wait_with_output().expect("wait");
    assert!(piped.status.success());
    assert_eq!(
        out(&piped),
        text,
        "standard input gives what the file gives"
    );
}

#[test]
fn json_svg_chinese_and_selection() {
    let (_t, file) = capture("refused");
    let json = out(&synack(&["explain", "--format", "json", &file]));
    let lines: Vec<&str> = json.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')));
    assert!(lines[0].starts_with("{\"t_us\":"), "{json}");
    assert!(json.contains("\"reason\":\"rst_refused\""), "{json}");
    assert!(json.contains("\"event\":\"connection\""));
    assert!(lines
        .last()
        .is_some_and(|l| l.starts_with("{\"event\":\"capture\"")));
    let svg = out(&synack(&[
        "explain", "--format", "svg", "--conn", "1", &file,
    ]));
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    let zh = out(&synack(&["explain", "--lang", "zh", &file]));
    assert!(zh.contains("该端口无人监听"), "{zh}");
    let none = out(&synack(&["explain", "--port", "9", &file]));
    assert!(!none.contains("connection 1"));
    let summary = out(&synack(&["explain", "--summary", &file]));
    assert!(summary.contains("connection 1") && !summary.contains("│"));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = std::env::temp_dir().join(format!("synack-explain-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let t = Tmp(dir.clone());
    let bad = dir.join("bad.pcap");
    std::fs::write(&bad, b"not a capture at all").expect("write");
    let o = synack(&["explain", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a pcap or pcapng capture"));
    let o = synack(&["explain", &dir.join("missing.pcap").to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    drop(t);
    let help = out(&synack(&["explain", "--help"]));
    assert!(help.contains("--conn") && help.contains("--absolute"));
}

#[test]
fn absolute_numbers() {
    let (_t, file) = capture("handshake");
    let rel = out(&synack(&["explain", &file]));
    let abs = out(&synack(&["explain", "--absolute", &file]));
    assert!(rel.contains("SYN seq=0 "), "{rel}");
    assert!(
        !abs.contains("SYN seq=0 ") && abs.contains("absolute seq/ack"),
        "{abs}"
    );
}

#[test]
fn a_live_stream_is_explained_before_it_ends() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;
    let (_t, file) = capture("refused");
    let bytes = std::fs::read(&file).expect("pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["explain", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run synack");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("connection 1") {
                let _ = tx.send(());
            }
        }
    });
    // The refused connection is over after its RST: it is printed while the
    // stream is still open, as with `tcpdump -w - | synack explain -`.
    stdin.write_all(&bytes).expect("write");
    stdin.flush().expect("flush");
    let seen = rx.recv_timeout(Duration::from_secs(20));
    drop(stdin);
    let _ = child.wait();
    let _ = reader.join();
    assert!(
        seen.is_ok(),
        "the connection was not printed before the stream ended"
    );
}
