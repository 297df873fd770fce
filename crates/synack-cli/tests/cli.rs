//! The synack command, run as a process: pinned outputs, exit codes, pcap.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run synack")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 errors")
}

/// Compare with `tests/snapshots/<name>`: `Err` says how it differs.
///
/// With `SYNACK_BLESS=1` a snapshot that differs (or is missing) is written
/// and the result is still an `Err` naming it, so a blessing run fails
/// until it is rerun without the variable: a leaked `SYNACK_BLESS` cannot
/// make the comparisons vacuous. Under CI (`CI` set) blessing is refused.
fn compare_snapshot(name: &str, actual: &str) -> Result<(), String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
        .join(name);
    let expected = std::fs::read_to_string(&path).ok();
    if std::env::var("SYNACK_BLESS").is_ok_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "SYNACK_BLESS=1 under CI: snapshots are never rewritten in CI (unset SYNACK_BLESS)"
        );
        if expected.as_deref() == Some(actual) {
            return Ok(());
        }
        std::fs::write(&path, actual).expect("write snapshot");
        return Err(format!(
            "blessed {name}: rerun without SYNACK_BLESS (and review the diff of {})",
            path.display()
        ));
    }
    let Some(expected) = expected else {
        return Err(format!(
            "snapshot {} is missing: run SYNACK_BLESS=1 cargo test -p synack-cli, then read it",
            path.display()
        ));
    };
    if expected == actual {
        return Ok(());
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{name} differs from its snapshot at line {}:\nexpected: {:?}\nactual:   {:?}\n(SYNACK_BLESS=1 cargo test -p synack-cli to accept, then review the diff)",
        line + 1,
        expected.lines().nth(line),
        actual.lines().nth(line)
    ))
}

/// Compare with `tests/snapshots/<name>`, failing on any difference (and
/// after blessing, see [`compare_snapshot`]).
fn snapshot(name: &str, actual: &str) {
    if let Err(e) = compare_snapshot(name, actual) {
        panic!("{e}");
    }
}

/// Fail with every message of `results` that is an error, so that one
/// blessing run writes all the snapshots of a test before failing.
fn all_snapshots(results: Vec<Result<(), String>>) {
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

fn scenario_names() -> Vec<String> {
    let o = synack(&["scenario", "--list"]);
    assert_eq!(o.status.code(), Some(0));
    stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn every_scenario_text_is_pinned() {
    let names = scenario_names();
    assert_eq!(names.len(), 24);
    let mut results = Vec::new();
    for name in &names {
        let o = synack(&["scenario", name, "--no-color"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(!text.contains('\x1b'), "{name}: colour in a pipe");
        results.push(compare_snapshot(&format!("scenario_{name}.txt"), &text));
    }
    all_snapshots(results);
}

#[test]
fn list_has_one_line_per_scenario() {
    let o = synack(&["scenario", "--list"]);
    snapshot("scenario_list.txt", &stdout(&o));
}

#[test]
fn demo_views_are_pinned() {
    let text = synack(&["demo"]);
    assert_eq!(text.status.code(), Some(0));
    assert!(
        !stdout(&text).contains('\x1b'),
        "no colour when stdout is a pipe"
    );
    let mut results = vec![compare_snapshot("demo.txt", &stdout(&text))];
    for (args, file) in [
        // --no-color changes nothing on a pipe: the same pinned text.
        (&["demo", "--no-color"][..], "demo.txt"),
        (&["demo", "--format", "json"][..], "demo.jsonl"),
        (&["demo", "--lang", "zh"][..], "demo_zh.txt"),
        (&["demo", "--format", "mermaid"][..], "demo.mmd"),
        (&["demo", "--format", "svg"][..], "demo.svg"),
    ] {
        let o = synack(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        results.push(compare_snapshot(file, &stdout(&o)));
    }
    all_snapshots(results);
}

#[test]
fn demo_json_lines_are_objects_with_the_documented_keys() {
    let o = synack(&["demo", "--format", "json"]);
    let text = stdout(&o);
    assert!(text.lines().count() > 20);
    for line in text.lines() {
        assert!(
            line.starts_with("{\"t_us\":") && line.ends_with('}'),
            "{line}"
        );
        assert!(
            line.contains("\"host\":") && line.contains("\"event\":"),
            "{line}"
        );
    }
    assert!(text.contains("\"event\":\"send\"") && text.contains("\"flags\":[\"SYN\"]"));
}

#[test]
fn options_change_the_run() {
    let o = synack(&[
        "demo",
        "--absolute",
        "--seed",
        "7",
        "--delay",
        "25",
        "--msl",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("arrives 25.000 ms"), "{text}");
    assert!(text.contains("absolute"), "{text}");
    let o = synack(&["scenario", "keepalive", "--keepalive", "60,10,3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 unanswered probes"));
    let o = synack(&[
        "scenario",
        "syn-flood",
        "--syn-cookies",
        "off",
        "--backlog",
        "2",
    ]);
    assert!(stdout(&o).contains("with cookies off, the full SYN queue dropped SYNs"));
    let o = synack(&[
        "demo",
        "--loss",
        "0.2",
        "--seed",
        "3",
        "--jitter",
        "5",
        "--reorder",
        "0.1",
        "--duplicate",
        "0.1",
        "--corrupt",
        "0.05",
        "--mtu",
        "576",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["demo", "--help"],
        &["scenario", "--help"],
        &["tun", "--help"],
        &["tun", "serve", "--help"],
        &["tun", "connect", "--help"],
        &["tun", "get", "--help"],
        &["tun", "demo", "--help"],
        &["tun", "bench", "--help"],
    ] {
        let o = synack(args);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).contains("Usage"), "{args:?}");
    }
    assert!(stdout(&synack(&["demo", "--help"])).contains("--syn-cookies"));
    let serve = stdout(&synack(&["tun", "serve", "--help"]));
    for option in [
        "--addr", "--port", "--netns", "--dev", "--trace", "--pcap", "--count",
    ] {
        assert!(serve.contains(option), "tun serve --help lacks {option}");
    }
    assert!(stdout(&synack(&["tun", "bench", "--help"])).contains("--size"));
}

fn bad_usage(args: &[&str], needles: &[&str]) {
    let o = synack(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got {err:?}"
    );
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
}

#[test]
fn wrong_input_is_one_line_and_exit_code_2() {
    bad_usage(
        &["scenario", "handshak"],
        &["unknown scenario", "handshake, teardown"],
    );
    bad_usage(&["scenario"], &["NAME"]);
    bad_usage(&["demo", "--loss", "2"], &["--loss", "between 0 and 1"]);
    bad_usage(&["demo", "--loss", "x"], &["--loss"]);
    bad_usage(
        &["demo", "--format", "png"],
        &["png", "text, json, mermaid, svg"],
    );
    bad_usage(&["demo", "--lang", "fr"], &["en, zh"]);
    bad_usage(&["demo", "--syn-cookies", "maybe"], &["off, auto, always"]);
    bad_usage(&["demo", "--keepalive", "1,2"], &["IDLE,INTERVAL,COUNT"]);
    bad_usage(&["demo", "--mtu", "20"], &["--mtu"]);
    bad_usage(&["demo", "--backlog", "0"], &["--backlog"]);
    bad_usage(
        &["demo", "--drop", "mallory:1:SYN"],
        &["mallory", "client, server"],
    );
    bad_usage(&["demo", "--drop", "client:x:SYN"], &["--drop"]);
    bad_usage(&["demo", "--bogus"], &["--bogus"]);
    bad_usage(&["frobnicate"], &["frobnicate"]);
}

/// No run of `n` English words outside quotes and placeholders: what the
/// user typed and the names of options and values may stay as they are.
fn english_run(text: &str, n: usize) -> Option<String> {
    let mut run = Vec::new();
    let mut quoted = false;
    for w in text.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        quoted ^= w.matches('"').count() % 2 == 1;
        let word = w.trim_matches(|c: char| !c.is_ascii_alphabetic());
        let plain = !quoted
            && word.len() > 1
            && word.chars().all(|c| c.is_ascii_lowercase())
            && !w.contains(['<', '-', ':', '\'', '"', '=']);
        if plain {
            run.push(word);
            if run.len() >= n {
                return Some(run.join(" "));
            }
        } else {
            run.clear();
        }
    }
    None
}

#[test]
fn wrong_input_is_said_in_chinese_under_lang_zh() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["scenario", "handshak"],
            "错误: 未知的场景 \"handshak\"；可用的场景：handshake, teardown",
        ),
        (&["scenario"], "错误: 缺少必需的参数"),
        (
            &["demo", "--loss", "2"],
            "错误: --loss <P> 的值 '2' 无效：应为 0 到 1 之间的概率",
        ),
        (
            &["demo", "--keepalive", "1,2"],
            "应为 IDLE,INTERVAL,COUNT：秒、秒、探测次数",
        ),
        (
            &["demo", "--mtu", "20"],
            "错误: --mtu <N> 的值 '20' 无效：20 不在",
        ),
        (&["demo", "--backlog", "0"], "0 不在 1..=65535 范围内"),
        (
            &["demo", "--drop", "mallory:1:SYN"],
            "无效的 --drop \"mallory:1:SYN\"：未知的主机 \"mallory\"；已知的主机：client, server",
        ),
        (
            &["demo", "--drop", "client:x:SYN"],
            "无效的次数 \"x\"：应为 '*' 或正整数",
        ),
        (
            &["demo", "--drop", "client:1:XYZ"],
            "未知的 TCP 标志 \"XYZ\"",
        ),
        (
            &["demo", "--drop", "bogus"],
            "应为 HOST:COUNT:FLAGS（3 个以 ':' 分隔的字段），实际 1 个字段",
        ),
        (&["demo", "--bogus"], "错误: 未知的参数 '--bogus'"),
        (
            &["demo", "--plot", "foo", "x.svg"],
            "错误: 无效的 --plot 类型 \"foo\"：应为 tseq 或 cwnd",
        ),
        (
            &["demo", "--pcap", "/nonexistent-synack-dir/x.pcap"],
            "错误: 无法写入 pcap 文件",
        ),
        (
            &["explain", "/nonexistent-synack-file.pcap"],
            "错误: 无法打开 /nonexistent-synack-file.pcap：没有这个文件或目录",
        ),
    ];
    for (args, needle) in cases {
        let mut all = args.to_vec();
        all.extend(["--lang", "zh"]);
        let o = synack(&all);
        assert_eq!(o.status.code(), Some(2), "{all:?}");
        let err = stderr(&o);
        assert!(err.contains(needle), "{all:?}: {err:?} lacks {needle:?}");
        assert_eq!(
            english_run(&err, 3),
            None,
            "{all:?}: English left in {err:?}"
        );
    }
    // The same errors stay English without --lang zh.
    let err = stderr(&synack(&["demo", "--drop", "client:x:SYN"]));
    assert!(err.contains("bad count \"x\""), "{err}");
}

#[test]
fn wrong_tun_input_is_one_line_and_exit_code_2() {
    bad_usage(
        &["tun", "serve", "gopher"],
        &["gopher", "echo, discard, http"],
    );
    bad_usage(&["tun", "serve", "echo", "--port", "x"], &["--port"]);
    bad_usage(
        &["tun", "serve", "echo", "--addr", "10.0.0.1/31"],
        &["--addr", "8 to 30"],
    );
    bad_usage(
        &["tun", "serve", "echo", "--addr", "10.0.0/24"],
        &["--addr"],
    );
    bad_usage(&["tun", "connect", "10.77.0.1"], &["IP:PORT"]);
    bad_usage(&["tun", "connect"], &["IP:PORT"]);
    bad_usage(&["tun", "get", "ftp://10.77.0.1/"], &["http://"]);
    bad_usage(&["tun", "bench", "--size", "0"], &["--size"]);
    bad_usage(&["tun", "demo", "--bogus"], &["--bogus"]);
    bad_usage(&["tun", "frobnicate"], &["frobnicate"]);
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synack-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unwritable_pcap_path_leaves_nothing() {
    let d = temp_dir("bad-pcap");
    let missing = d.join("no-such-dir").join("x.pcap");
    bad_usage(
        &["demo", "--pcap", missing.to_str().expect("UTF-8 path")],
        &["cannot write pcap file", "x.pcap"],
    );
    bad_usage(
        &["demo", "--pcap", d.to_str().expect("UTF-8 path")],
        &["directory"],
    );
    // A failing run (bad drop spec) leaves no partial file either.
    let target = d.join("out.pcap");
    bad_usage(
        &[
            "demo",
            "--pcap",
            target.to_str().expect("UTF-8 path"),
            "--drop",
            "nobody:1:SYN",
        ],
        &["nobody"],
    );
    assert!(entries(&d).is_empty(), "{:?}", entries(&d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn pcap_is_read_by_tcpdump_with_every_delivered_segment() {
    let d = temp_dir("pcap");
    let file = d.join("demo.pcap");
    let o = synack(&[
        "demo",
        "--pcap",
        file.to_str().expect("UTF-8 path"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(entries(&d), ["demo.pcap"], "only the final file");
    // Every segment that went on the wire and arrived: one `recv` line each.
    let delivered = stdout(&o)
        .lines()
        .filter(|l| l.contains("\"event\":\"recv\""))
        .count();
    let tcpdump = match Command::new("tcpdump")
        .args(["-n", "-tt", "-r"])
        .arg(&file)
        .output()
    {
        Ok(t) => t,
        Err(e) => panic!("tcpdump is required for this test and could not be run: {e}"),
    };
    assert!(
        tcpdump.status.success(),
        "tcpdump: {}",
        String::from_utf8_lossy(&tcpdump.stderr)
    );
    let lines = String::from_utf8_lossy(&tcpdump.stdout).into_owned();
    assert_eq!(lines.lines().count(), delivered, "{lines}");
    assert!(
        lines.contains("10.0.0.1.") && lines.contains("10.0.0.2.80"),
        "{lines}"
    );
    assert!(
        lines.contains("Flags [S]") && lines.contains("Flags [F.]"),
        "{lines}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn faults_give_an_honest_verdict_and_exit_0() {
    // The abort's RST is lost: RFC 9293 never resends a RST, so the server
    // never learns; no rule is broken, the story cannot finish.
    let o = synack(&["scenario", "abort", "--seed", "13", "--loss", "0.05"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("RFC rules, on any link"), "{text}");
    assert!(
        text.contains("verdict: incomplete: no RFC rule broken")
            && text.contains("packets: 1 lost"),
        "{text}"
    );
    assert!(
        text.contains("unmet    the server's next call failed"),
        "{text}"
    );
    // The peer's FIN carries the ACK of the client's: FIN_WAIT_1 -> TIME_WAIT.
    let o = synack(&["scenario", "teardown", "--seed", "17", "--loss", "0.05"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("verdict: another legal path"), "{text}");
    assert!(
        text.contains("differs  client: ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2"),
        "{text}"
    );
    // JSON on stdout, the verdict on stderr.
    let o = synack(&[
        "scenario", "teardown", "--seed", "17", "--loss", "0.05", "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("verdict: another legal path"));
    // In Chinese too.
    let o = synack(&[
        "scenario", "abort", "--seed", "13", "--loss", "0.05", "--lang", "zh",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains("结论：未完成") && text.contains("未达成"),
        "{text}"
    );
}

#[test]
fn a_drop_rule_that_never_fires_is_reported() {
    // The demo's client sends one FIN: a rule for its third never fires.
    let o = synack(&["demo", "--drop", "client:3:FIN"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("note: rule \"client:3:FIN\" (drop the 3rd packet client->* with FIN) never fired: 1 packet(s) matched"),
        "{text}"
    );
    let o = synack(&["demo", "--drop", "client:3:FIN", "--format", "json"]);
    assert!(stderr(&o).contains("never fired"), "{}", stderr(&o));
    // A CE mark without ECN negotiated (no packet is ECN-capable): left
    // alone, and said so.
    let o = synack(&["scenario", "handshake", "--drop", "client:1:ACK=ce"]);
    let text = stdout(&o);
    assert!(
        text.contains("was not ECN-capable, so it was left unmarked"),
        "{text}"
    );
    assert!(
        !text.contains("set CE"),
        "no packet is labelled as marked: {text}"
    );
    // A rule that fires says nothing.
    let o = synack(&["demo", "--drop", "client:1:FIN"]);
    assert!(!stdout(&o).contains("never fired"));
}

#[test]
fn errors_speak_the_chosen_language() {
    let o = synack(&["demo", "--lang", "zh", "--drop", "nobody:1:SYN"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("错误: "), "{}", stderr(&o));
}

#[test]
fn drill_help_explains_the_options_and_the_exit_status() {
    let o = synack(&["drill", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for needle in [
        "--mode",
        "--json",
        "--jobs",
        "--fail-under",
        "Exit status",
        "PATH",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let o = synack(&["drill", "/nonexistent/synack/drill/path"]);
    assert_eq!(o.status.code(), Some(1));
}

/// The README's account of the JSON lines: from its `--format json`
/// paragraph to the next section.
fn readme_json_section() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme
        .find("`--format json` prints")
        .expect("the JSON section");
    let end = readme[start..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + e);
    readme[start..end].to_string()
}

#[test]
fn every_json_key_is_documented_and_options_are_there() {
    let doc = readme_json_section();
    let mut runs = vec![
        synack(&["demo", "--format", "json"]),
        synack(&["scenario", "ecn", "--format", "json"]),
        synack(&["scenario", "path-mtu", "--format", "json"]),
        synack(&[
            "scenario", "abort", "--seed", "13", "--loss", "0.05", "--format", "json",
        ]),
        synack(&["demo", "--drop", "client:3:FIN", "--format", "json"]),
    ];
    // A lossy transfer: SACK blocks and link faults.
    runs.push(synack(&[
        "scenario",
        "bulk-transfer",
        "--loss",
        "0.05",
        "--duplicate",
        "0.05",
        "--corrupt",
        "0.02",
        "--seed",
        "3",
        "--format",
        "json",
    ]));
    let mut seen_sack = false;
    for o in &runs {
        for line in stdout(o).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object");
            let obj = v.as_object().expect("an object");
            let mut keys: Vec<&String> = obj.keys().collect();
            if let Some(opts) = obj.get("opts").and_then(|o| o.as_object()) {
                keys.extend(opts.keys());
                seen_sack |= opts.contains_key("sack");
            }
            if let Some(e) = obj.get("event").and_then(|e| e.as_str()) {
                assert!(doc.contains(&format!("`{e}`")), "event {e} undocumented");
            }
            for k in keys {
                assert!(
                    doc.contains(&format!("`{k}`")),
                    "key {k} undocumented: {line}"
                );
            }
        }
    }
    assert!(seen_sack, "no SACK block in a lossy transfer's JSON");
    let text = stdout(&runs[0]);
    assert!(text.contains("\"opts\":{\"mss\":1460,\"wscale\":1,\"sack_ok\":true,\"ts\":["));
    assert!(text.contains("\"event\":\"check\",\"kind\":\"rule\",\"passed\":true"));
    assert!(
        text.ends_with("\"text\":\"verdict: as expected (a clean link, the textbook path)\"}\n")
    );
}
