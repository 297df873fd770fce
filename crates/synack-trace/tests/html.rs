//! The HTML page and the plots of the textbook connection: what they draw,
//! where the socket calls go, what the series keeps; and exact snapshots.

mod common;

use common::snapshot;
use synack_proto::{FourTuple, Instant};
use synack_trace::{
    fixture, inferred_calls, render_html, render_tseq, Call, HtmlOptions, Lang, PlotOptions,
    Sample, Series, SocketCall, MAX_SAMPLES,
};

fn page(opts: &HtmlOptions) -> String {
    render_html(&fixture::textbook(), &fixture::hosts(), opts)
}

/// The ids of the ladder's lines in order, each with its text.
fn rows(html: &str) -> Vec<&str> {
    html.split("<g class=\"r\" id=\"r").skip(1).collect()
}

#[test]
fn the_page_is_self_contained() {
    let html = page(&HtmlOptions::default());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html
        .replace("http://www.w3.org/2000/svg", "")
        .contains("://"));
    assert!(html.contains("default-src 'none'"));
    assert!(html.contains("<script>") && !html.contains("<script src"));
}

#[test]
fn the_lost_request_falls_short_with_its_reason() {
    let html = page(&HtmlOptions::default());
    let lost: Vec<&str> = rows(&html)
        .into_iter()
        .filter(|r| r.contains("class=\"a seg lost\""))
        .collect();
    assert_eq!(lost.len(), 1, "one segment is lost in the textbook");
    assert!(lost[0].contains("PSH,ACK seq=1"), "{}", lost[0]);
    assert!(lost[0].contains("lost: random loss"), "{}", lost[0]);
}

#[test]
fn without_script_the_diagrams_show_the_end() {
    let html = page(&HtmlOptions::default());
    let sd0 = html.split("id=\"sd0\"").nth(1).expect("client diagram");
    let sd1 = html.split("id=\"sd1\"").nth(1).expect("server diagram");
    assert!(sd0.contains("class=\"sn on\" data-s=\"CLOSED\""));
    assert!(sd1.contains("class=\"sn on\" data-s=\"CLOSED\""));
    // The last transitions: TIME_WAIT → CLOSED and LAST_ACK → CLOSED.
    assert_eq!(html.matches("class=\"sn on\"").count(), 2);
}

#[test]
fn a_call_sits_just_before_the_state_it_causes() {
    let calls = vec![
        SocketCall {
            at: Instant::from_millis(0),
            host: 1,
            call: Call::Listen,
            inferred: false,
        },
        SocketCall {
            at: Instant::from_millis(0),
            host: 0,
            call: Call::Connect,
            inferred: false,
        },
    ];
    let html = page(&HtmlOptions {
        calls,
        ..HtmlOptions::default()
    });
    let r = rows(&html);
    let connect = r
        .iter()
        .position(|x| x.contains(">connect()<"))
        .expect("connect drawn");
    assert!(
        r[connect + 1].contains("data-to=\"SYN_SENT\""),
        "{}",
        r[connect + 1]
    );
    let listen = r
        .iter()
        .position(|x| x.contains(">listen()<"))
        .expect("listen");
    assert!(r[listen + 1].contains("data-to=\"LISTEN\""));
}

#[test]
fn a_capture_infers_calls_from_causes() {
    let calls = inferred_calls(&fixture::textbook());
    let names: Vec<(usize, Call)> = calls.iter().map(|c| (c.host, c.call)).collect();
    assert_eq!(
        names,
        vec![
            (1, Call::Listen),
            (0, Call::Connect),
            (0, Call::Close),
            (1, Call::Close)
        ]
    );
    assert!(calls.iter().all(|c| c.inferred));
}

#[test]
fn tseq_marks_the_loss_and_the_retransmission() {
    let svg = render_tseq(
        &fixture::textbook(),
        &fixture::hosts(),
        &PlotOptions::default(),
    )
    .expect("data was sent");
    assert!(svg.contains("client → server"), "the client sent the most");
    assert!(svg.contains("data-segs=\"2\""));
    assert!(svg.contains("data-retransmits=\"1\""));
    assert_eq!(svg.matches("<line class=\"d lost\"").count(), 1);
    assert_eq!(svg.matches("<line class=\"d rx\"").count(), 1);
}

fn sample(at: u64, cwnd: u32) -> Sample {
    Sample {
        at: Instant::from_millis(at),
        host: 0,
        tuple: FourTuple {
            local: "10.0.0.1:1000".parse().expect("addr"),
            remote: "10.0.0.2:80".parse().expect("addr"),
        },
        cwnd,
        ssthresh: None,
        in_flight: 0,
        snd_wnd: 65535,
        srtt_us: None,
        rto_us: 1_000_000,
    }
}

#[test]
fn a_series_keeps_changes_only_and_is_bounded() {
    let mut s = Series::new();
    s.push(sample(0, 14600));
    s.push(sample(10, 14600));
    s.push(sample(20, 29200));
    assert_eq!(s.samples.len(), 2, "an unchanged sample is not kept");
    let t = s.samples[0].tuple;
    s.push_window(Instant::from_millis(30), 0, t, 14600, Some(14600));
    let last = s.samples.last().expect("a sample");
    assert_eq!(
        (last.cwnd, last.ssthresh, last.rto_us),
        (14600, Some(14600), 1_000_000)
    );
    for i in 0..MAX_SAMPLES as u32 + 10 {
        s.push(sample(40 + u64::from(i), 1000 + i));
    }
    assert_eq!(s.samples.len(), MAX_SAMPLES);
    assert_eq!(s.dropped, 13);
}

#[test]
fn snapshot_page_zh() {
    let out = page(&HtmlOptions {
        lang: Lang::Zh,
        title: "synack".into(),
        calls: inferred_calls(&fixture::textbook()),
        ..HtmlOptions::default()
    });
    snapshot("page_zh.html", &out);
}

#[test]
fn snapshot_tseq() {
    let out = render_tseq(
        &fixture::textbook(),
        &fixture::hosts(),
        &PlotOptions::default(),
    )
    .expect("data");
    snapshot("tseq.svg", &out);
}
