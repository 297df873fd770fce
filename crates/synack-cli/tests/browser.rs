//! The HTML view in a real browser: headless Chromium (Debian's `chromium`,
//! which `.ci/run` installs) loads pages written by `synack ... --format
//! html` with the network cut off, and the test reads back the DOM the
//! page's script built: no script errors, the animation advances, the state
//! diagrams light the state the trace says, the plots hold one mark per
//! segment. Screenshots at desktop and phone widths are compared with the
//! committed references in `tests/browser/` within a tolerance (8x8-pixel
//! blocks, so fonts rendered a little differently pass; a moved or missing
//! panel does not).
//!
//! Without Chromium a test FAILS under CI (`CI` set) and elsewhere prints a
//! loud `SKIPPED` line. After a deliberate change of the page, run
//! `SYNACK_BLESS=1 cargo test -p synack-cli --test browser` to rewrite the
//! references, then look at them: they are what a learner sees.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser, or `None` after saying why the test is skipped (under CI
/// it panics instead).
fn chromium(test: &str) -> Option<PathBuf> {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return Some(PathBuf::from(c));
        }
    }
    let why = "chromium is not installed (apt-get install chromium; .ci/run does it)";
    assert!(std::env::var_os("CI").is_none(), "{test}: {why}");
    eprintln!("SKIPPED: {test}: {why}");
    None
}

/// A fresh directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// Run synack; its standard output.
fn synack(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack");
    assert!(
        o.status.success(),
        "synack {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

/// Write a scenario's page; its path.
fn page(dir: &Path, args: &[&str], name: &str) -> PathBuf {
    let html = synack(args);
    let p = dir.join(name);
    std::fs::write(&p, html).expect("write page");
    p
}

/// Chromium, headless, with every network request failing.
fn browser(bin: &Path, dir: &Path, extra: &[&str], url: &str) -> (String, String) {
    let profile = dir.join(format!("profile-{}", extra.len() + url.len()));
    let o = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The DOM after the page's script ran (and `budget` ms of virtual time).
fn dom(bin: &Path, dir: &Path, file: &Path, hash: &str, budget: u32) -> String {
    let url = format!("file://{}#{hash}", file.display());
    let budget = format!("--virtual-time-budget={budget}");
    let (out, err) = browser(bin, dir, &["--dump-dom", &budget], &url);
    assert!(
        out.contains("</html>"),
        "no DOM from chromium for {url}: {err}"
    );
    assert!(
        !err.contains("Uncaught") && !out.contains("<body data-errors"),
        "script errors on {url}: {err}"
    );
    out
}

/// The text between `start` (its first occurrence after `from`) and `end`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// The state lit in side `side`'s diagram.
fn lit(dom: &str, side: u8) -> Option<String> {
    let svg = between(dom, &format!("id=\"sd{side}\""), "</svg>")?;
    between(svg, "class=\"sn on\" data-s=\"", "\"").map(str::to_string)
}

/// The page's own data: one JSON object per ladder line.
fn lines(html: &str) -> Vec<serde_json::Value> {
    let json = between(
        html,
        "<script type=\"application/json\" id=\"trace\">",
        "</script>",
    )
    .expect("the page carries its data");
    serde_json::from_str(json).expect("the data is JSON")
}

#[test]
fn handshake_steps_light_the_states_the_trace_names() {
    let Some(bin) = chromium("handshake_steps_light_the_states_the_trace_names") else {
        return;
    };
    let dir = scratch("handshake");
    let file = page(
        &dir,
        &["scenario", "handshake", "--format", "html"],
        "h.html",
    );
    let html = std::fs::read_to_string(&file).expect("read page");
    let data = lines(&html);
    // Where each side stands after every line, recomputed here from the data.
    let mut states: [Option<String>; 2] = [None, None];
    let mut checked = 0;
    for (i, d) in data.iter().enumerate() {
        if d["k"] != "m" {
            continue;
        }
        let side = d["c"].as_u64().expect("a side") as usize;
        states[side] = d["to"].as_str().map(str::to_string);
        if d["to"] != "ESTABLISHED" {
            continue;
        }
        let dom = dom(&bin, &dir, &file, &(i + 1).to_string(), 500);
        assert_eq!(
            lit(&dom, side as u8).as_deref(),
            Some("ESTABLISHED"),
            "after {} steps",
            i + 1
        );
        assert_eq!(
            lit(&dom, 1 - side as u8),
            states[1 - side],
            "the other side"
        );
        assert!(dom.contains(&format!("{} / {}", i + 1, data.len())));
        // The transition just taken is drawn, with its cause.
        let caption = between(&dom, &format!("id=\"cause{side}\">"), "<").expect("caption");
        assert!(caption.contains("→ ESTABLISHED:"), "{caption}");
        checked += 1;
    }
    assert_eq!(checked, 2, "both sides reach ESTABLISHED in a handshake");
}

#[test]
fn playing_advances_the_animation_in_virtual_time() {
    let Some(bin) = chromium("playing_advances_the_animation_in_virtual_time") else {
        return;
    };
    let dir = scratch("play");
    let file = page(&dir, &["demo", "--format", "html"], "demo.html");
    let n = lines(&std::fs::read_to_string(&file).expect("read")).len();
    let before = dom(&bin, &dir, &file, "", 100);
    assert!(
        before.contains(&format!(">0 / {n}<")),
        "starts before the first event"
    );
    let after = dom(&bin, &dir, &file, "play", 4000);
    let shown: usize = between(&after, "id=\"count\">", " /")
        .and_then(|s| s.parse().ok())
        .expect("a step counter");
    assert!(
        shown >= 3 && shown < n,
        "played {shown} of {n} events in 4 s"
    );
    // The lines not reached yet are faded; the current one is marked.
    assert!(after.contains(&format!("class=\"r cur\" id=\"r{}\"", shown - 1)));
    assert!(after.contains(&format!("class=\"r fut\" id=\"r{shown}\"")));
}

#[test]
fn plots_hold_one_mark_per_segment_and_sample() {
    let Some(bin) = chromium("plots_hold_one_mark_per_segment_and_sample") else {
        return;
    };
    let dir = scratch("plots");
    let file = page(
        &dir,
        &["scenario", "bulk-transfer", "--format", "html"],
        "b.html",
    );
    // What the event stream says: the client's data segments, the server's ACKs.
    let events = synack(&["scenario", "bulk-transfer", "--format", "json"]);
    let (mut data, mut acks) = (0, 0);
    for l in events.lines() {
        let e: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        if e["event"] != "send" {
            continue;
        }
        if e["host"] == "client" && e["len"].as_u64().unwrap_or(0) > 0 {
            data += 1;
        }
        let has_ack = e["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "ACK"));
        if e["host"] == "server" && has_ack {
            acks += 1;
        }
    }
    assert!(
        data >= 14,
        "20000 bytes take at least 14 segments, got {data}"
    );
    let dom = dom(&bin, &dir, &file, "20", 300);
    let tseq = between(&dom, "id=\"tseq\"", "</svg>").expect("a time-sequence graph");
    assert!(tseq.contains(&format!("data-segs=\"{data}\" data-acks=\"{acks}\"")));
    let marks = between(tseq, "data-probes=", "</g>").expect("the marks");
    assert_eq!(
        marks.matches("<line class=\"d").count(),
        data,
        "a bar per segment"
    );
    let cwnd = between(&dom, "id=\"cwnd\"", "</svg>").expect("a congestion-control plot");
    let samples: usize = between(cwnd, "data-samples=\"", "\"")
        .and_then(|s| s.parse().ok())
        .expect("a sample count");
    assert!(
        samples >= 4,
        "cwnd grows during the transfer: {samples} samples"
    );
    let line = between(cwnd, "class=\"cwnd\" data-n=\"", ">").expect("the cwnd line");
    let n: usize = line
        .split('"')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("n");
    let points = between(line, "points=\"", "\"").expect("points");
    assert_eq!(n, samples, "one cwnd point per sample");
    assert_eq!(
        points.split(' ').count(),
        2 * n - 1,
        "steps: two points per change"
    );
    // The cursor follows the virtual clock onto the plot.
    let x1: f64 = between(tseq, "class=\"cursor\" x1=\"", "\"")
        .and_then(|s| s.parse().ok())
        .expect("cursor");
    assert!(x1 > 0.0, "the cursor is on the plot at step 20");
}

#[test]
fn without_javascript_the_ladder_is_static_and_complete() {
    let Some(bin) = chromium("without_javascript_the_ladder_is_static_and_complete") else {
        return;
    };
    let dir = scratch("nojs");
    let html = synack(&["scenario", "lost-syn", "--format", "html"]);
    // Headless Chromium captures nothing with scripting switched off, so
    // the page's one script is cut out: what a browser without JavaScript
    // runs of it.
    let start = html.find("<script>").expect("the page's script");
    let end = html[start..].find("</script>").expect("its end") + start + "</script>".len();
    let file = dir.join("static.html");
    std::fs::write(&file, format!("{}{}", &html[..start], &html[end..])).expect("write");
    let out = dom(&bin, &dir, &file, "", 300);
    assert!(!out.contains("class=\"js\""), "no script ran");
    assert!(!out.contains(" fut\""), "nothing is faded");
    let n = lines(&html).len();
    assert_eq!(
        out.matches("<g class=\"r\" id=\"r").count(),
        n,
        "every line drawn"
    );
    // The lost SYN is drawn falling short, with its reason.
    assert!(out.contains("class=\"a syn lost\""));
    assert!(out.contains("lost: "));
    // The diagrams show where each side ended, the last transition drawn.
    assert_eq!(lit(&out, 0).as_deref(), Some("CLOSED"));
    assert!(out.contains("class=\"taken\" id=\"tk0\""));
}

#[test]
fn explain_pages_a_capture_with_inferred_calls() {
    let Some(bin) = chromium("explain_pages_a_capture_with_inferred_calls") else {
        return;
    };
    let dir = scratch("explain");
    let pcap = dir.join("t.pcap");
    synack(&[
        "scenario",
        "teardown",
        "--pcap",
        pcap.to_str().expect("UTF-8 path"),
    ]);
    let file = page(
        &dir,
        &[
            "explain",
            pcap.to_str().expect("path"),
            "--format",
            "html",
            "--lang",
            "zh",
        ],
        "e.html",
    );
    let html = std::fs::read_to_string(&file).expect("read");
    assert!(html.contains("<html lang=\"zh\">"));
    assert!(
        html.contains("connect()?"),
        "connect inferred from the state change"
    );
    let n = lines(&html).len();
    let dom = dom(&bin, &dir, &file, &n.to_string(), 300);
    assert_eq!(lit(&dom, 0).as_deref(), Some("TIME_WAIT"));
    assert_eq!(lit(&dom, 1).as_deref(), Some("CLOSED"));
}

/// Mean colour of each 8x8 block, RGB.
fn blocks(png: &[u8]) -> (u32, u32, Vec<[f64; 3]>) {
    let dec = png::Decoder::new(png);
    let mut r = dec.read_info().expect("a PNG");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("a frame");
    let ch = info.color_type.samples();
    let (w, h) = (info.width, info.height);
    let (bw, bh) = (w.div_ceil(8), h.div_ceil(8));
    let mut out = vec![[0.0; 3]; (bw * bh) as usize];
    let mut cnt = vec![0.0; (bw * bh) as usize];
    for y in 0..h {
        for x in 0..w {
            let i = ((y * w + x) as usize) * ch;
            let b = ((y / 8) * bw + x / 8) as usize;
            for c in 0..3 {
                out[b][c] += f64::from(buf[i + c.min(ch - 1)]);
            }
            cnt[b] += 1.0;
        }
    }
    for (o, n) in out.iter_mut().zip(cnt) {
        for v in o.iter_mut() {
            *v /= n;
        }
    }
    (bw, bh, out)
}

/// The narrowest window headless Chromium lays a page out in.
const MIN_WINDOW: u32 = 500;

/// Take a screenshot and compare it with the committed reference.
fn screenshot(
    bin: &Path,
    dir: &Path,
    file: &Path,
    hash: &str,
    size: (u32, u32),
    name: &str,
) -> Result<(), String> {
    let shot = dir.join(name);
    let mut url = format!("file://{}#{hash}", file.display());
    let mut window = size;
    if size.0 < MIN_WINDOW {
        // Headless Chromium lays out at least 500 px wide: a phone's width
        // is an iframe of that width, on the left of the picture.
        let frame = dir.join(format!("{name}.html"));
        std::fs::write(
            &frame,
            format!(
                "<!DOCTYPE html><body style=\"margin:0\"><iframe src=\"{url}\" \
                 style=\"width:{}px;height:{}px;border:0;border-right:1px solid #000\">\
                 </iframe></body>",
                size.0, size.1
            ),
        )
        .expect("write the phone frame");
        url = format!("file://{}", frame.display());
        window = (MIN_WINDOW, size.1);
    }
    let (_, err) = browser(
        bin,
        dir,
        &[
            &format!("--window-size={},{}", window.0, window.1),
            &format!("--screenshot={}", shot.display()),
            "--virtual-time-budget=300",
        ],
        &url,
    );
    let got = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {name}: {e}: {err}"));
    let reference = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("browser")
        .join(name);
    if std::env::var("SYNACK_BLESS").is_ok_and(|v| v == "1") {
        assert!(std::env::var_os("CI").is_none(), "SYNACK_BLESS=1 under CI");
        std::fs::write(&reference, &got).expect("write reference");
        return Err(format!(
            "blessed {}: rerun without SYNACK_BLESS and look at it",
            reference.display()
        ));
    }
    let want = std::fs::read(&reference).unwrap_or_else(|e| {
        panic!(
            "reference {} missing ({e}): SYNACK_BLESS=1 cargo test -p synack-cli --test browser",
            reference.display()
        )
    });
    let (gw, gh, g) = blocks(&got);
    let (ww, wh, w) = blocks(&want);
    if (gw, gh) != (ww, wh) {
        return Err(format!("{name}: the screenshot's size changed"));
    }
    let differ = g
        .iter()
        .zip(&w)
        .filter(|(a, b)| (0..3).map(|c| (a[c] - b[c]).abs()).sum::<f64>() / 3.0 > 24.0)
        .count();
    let ratio = differ as f64 / g.len() as f64;
    if ratio > 0.03 {
        return Err(format!(
            "{name}: {:.1}% of 8x8 blocks differ from {} (at most 3%); the screenshot is {}",
            ratio * 100.0,
            reference.display(),
            shot.display()
        ));
    }
    Ok(())
}

#[test]
fn screenshots_match_the_references() {
    let Some(bin) = chromium("screenshots_match_the_references") else {
        return;
    };
    let dir = scratch("shots");
    let demo = page(&dir, &["demo", "--format", "html"], "demo.html");
    let bulk = page(
        &dir,
        &["scenario", "bulk-transfer", "--format", "html"],
        "bulk.html",
    );
    let errors: Vec<String> = [
        (&demo, "8", (1280, 900), "demo-desktop.png"),
        (&demo, "8", (390, 844), "demo-phone.png"),
        (&bulk, "14", (1280, 900), "bulk-transfer-desktop.png"),
        (&bulk, "14", (390, 844), "bulk-transfer-phone.png"),
    ]
    .into_iter()
    .filter_map(|(f, hash, size, name)| screenshot(&bin, &dir, f, hash, size, name).err())
    .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn every_scenario_page_is_small_and_self_contained() {
    let list = synack(&["scenario", "--list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 20, "the catalog: {names:?}");
    for name in names {
        let html = synack(&["scenario", name, "--format", "html"]);
        // Every lifecycle scenario fits in 200 KiB. The congestion scenario
        // is a bulk transfer of 1,100 events (every segment of 400 kB) and
        // gets 512 KiB until the page encodes its events more compactly.
        let budget = if name == "congestion" { 512 } else { 200 } * 1024;
        assert!(
            html.len() < budget,
            "{name}: the page is {} bytes, over {} KiB",
            html.len(),
            budget / 1024
        );
        let outside = html
            .replace("http://www.w3.org/2000/svg", "")
            .contains("://");
        assert!(!outside, "{name}: the page names an address outside itself");
        assert!(
            html.contains("default-src 'none'"),
            "{name}: no fetches allowed"
        );
        assert!(
            !html.contains("<script src") && !html.contains("<link"),
            "{name}"
        );
    }
}
