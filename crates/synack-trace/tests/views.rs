//! Behaviour of the views beyond the snapshots: relative and absolute
//! numbers, drops and their reasons, explanations for every variant,
//! JSON and XML validity, several hosts, and arbitrary traces.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::wire::TcpFlags;
use synack_proto::{
    Cause, ConnError, ConnId, DropReason, Event, EventKind, FourTuple, Instant, SendReason, State,
    TimerKind,
};
use synack_sim::{DropCause, LinkEvent, LinkFate, TraceEntry, TraceKind};
use synack_trace::fixture::{self, seg, TraceBuilder, CLIENT, CLIENT_ISN, SERVER, SERVER_ISN};
use synack_trace::{
    cause_text, conn_error_text, drop_reason_name, drop_reason_text, link_drop_text, render_jsonl,
    render_mermaid, render_svg, render_text, send_reason_name, send_reason_text, state_text,
    timer_text, HostInfo, JsonOptions, Lang, ListenerView, MermaidOptions, SvgOptions, TextOptions,
};

fn plain() -> TextOptions {
    TextOptions {
        summary: false,
        ..TextOptions::default()
    }
}

#[test]
fn relative_numbers_start_at_zero() {
    let out = render_text(&fixture::textbook(), &fixture::hosts(), &plain());
    assert!(out.contains("SYN seq=0 win=65535"), "{out}");
    assert!(out.contains("SYN,ACK seq=0 ack=1 "), "{out}");
    assert!(out.contains("ACK seq=1 ack=1 "), "{out}");
    // The server's numbers wrap past 2^32 but stay small when relative.
    assert!(out.contains("PSH,ACK seq=1 ack=6 win=65535 len=7"), "{out}");
    assert!(out.contains("the ACK is the peer's ISN+1 = 1"), "{out}");
}

#[test]
fn absolute_numbers_are_raw() {
    let opts = TextOptions {
        absolute: true,
        ..plain()
    };
    let out = render_text(&fixture::textbook(), &fixture::hosts(), &opts);
    assert!(out.contains(&format!("SYN seq={CLIENT_ISN} ")), "{out}");
    assert!(
        out.contains(&format!("SYN,ACK seq={SERVER_ISN} ack={} ", CLIENT_ISN + 1)),
        "{out}"
    );
    // 4294967290 + 8 wraps to 2.
    assert!(out.contains("ACK seq=1000006 ack=2 "), "{out}");
    let json = render_jsonl(
        &fixture::textbook(),
        &fixture::hosts(),
        &JsonOptions {
            absolute: true,
            ..JsonOptions::default()
        },
    );
    let first_syn: serde_json::Value = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["event"] == "send")
        .expect("a send");
    assert_eq!(first_syn["seq"], CLIENT_ISN);
}

#[test]
fn link_drop_shows_its_reason() {
    let out = render_text(&fixture::textbook(), &fixture::hosts(), &plain());
    assert!(out.contains("✖"), "{out}");
    assert!(out.contains("lost: random loss on the link"), "{out}");
    let ascii = render_text(
        &fixture::textbook(),
        &fixture::hosts(),
        &TextOptions {
            ascii: true,
            ..plain()
        },
    );
    assert!(ascii.is_ascii() || !ascii.contains('✖'));
    assert!(ascii.contains("X "), "{ascii}");
    let m = render_mermaid(
        &fixture::textbook(),
        &fixture::hosts(),
        &MermaidOptions::default(),
    );
    assert!(m.contains("client-xserver:"), "{m}");
    assert!(m.contains("random loss"), "{m}");
}

fn conn() -> Option<ConnId> {
    Some(ConnId {
        index: 1,
        generation: 0,
    })
}

#[test]
fn rule_drop_and_receiver_drop_show_reasons() {
    let mut b = TraceBuilder::new();
    let syn = seg(CLIENT, SERVER, TcpFlags::SYN, 7, 0, 0);
    b.segment(
        0,
        0,
        conn(),
        1,
        None,
        syn,
        b"",
        SendReason::Normal,
        10,
        Some(DropCause::Rule("drop the first SYN <&>".into())),
    );
    b.segment(
        1000,
        0,
        conn(),
        1,
        None,
        syn,
        b"",
        SendReason::Retransmit,
        10,
        None,
    );
    b.event(
        1010,
        1,
        EventKind::Dropped {
            conn: None,
            seg: Some(syn),
            reason: DropReason::NoConnection,
        },
    );
    let rst = seg(SERVER, CLIENT, TcpFlags::RST | TcpFlags::ACK, 0, 8, 0);
    b.segment(
        1010,
        1,
        None,
        0,
        conn(),
        rst,
        b"",
        SendReason::Reset,
        10,
        None,
    );
    let entries = b.build();
    let out = render_text(&entries, &fixture::hosts(), &plain());
    assert!(
        out.contains("dropped by fault rule: drop the first SYN <&>"),
        "{out}"
    );
    assert!(
        out.contains("dropped by server: RST: no one listens on this port"),
        "{out}"
    );
    assert!(out.contains("RST,ACK"), "{out}");
    let svg = render_svg(&entries, &fixture::hosts(), &SvgOptions::default());
    assert!(svg.contains("drop the first SYN &lt;&amp;&gt;"));
    xml_ok(&svg);
    let json = render_jsonl(&entries, &fixture::hosts(), &JsonOptions::default());
    assert!(json.contains(r#""where":"link","#), "{json}");
    assert!(
        json.contains(r#""rule":"drop the first SYN <&>""#),
        "{json}"
    );
    assert!(json.contains(r#""reason":"no_connection""#), "{json}");
}

#[test]
fn link_drop_without_send_event_is_read_from_the_packet() {
    let s = seg(CLIENT, SERVER, TcpFlags::FIN | TcpFlags::ACK, 42, 99, 3);
    let entries = vec![TraceEntry {
        at: Instant::from_millis(5),
        host: 0,
        kind: TraceKind::Link(LinkEvent {
            from: 0,
            to: 1,
            packet: fixture::packet(&s, b"abc"),
            fate: LinkFate::Dropped(DropCause::QueueFull),
        }),
    }];
    let out = render_text(&entries, &fixture::hosts(), &plain());
    assert!(
        out.contains("FIN,ACK seq=42 ack=99 win=65535 len=3"),
        "{out}"
    );
    assert!(out.contains("the link's queue was full"), "{out}");
    let json = render_jsonl(&entries, &fixture::hosts(), &JsonOptions::default());
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(v["event"], "drop");
    assert_eq!(v["flags"], serde_json::json!(["FIN", "ACK"]));
    assert_eq!(v["len"], 3);
}

#[test]
fn jsonl_lines_parse_with_stable_keys() {
    for opts in [
        JsonOptions::default(),
        JsonOptions {
            explain: true,
            lang: Lang::Zh,
            absolute: true,
        },
    ] {
        let out = render_jsonl(&fixture::textbook(), &fixture::hosts(), &opts);
        let mut events = std::collections::BTreeSet::new();
        for line in out.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(line.starts_with(r#"{"t_us":"#), "{line}");
            assert!(v["host"] == "client" || v["host"] == "server");
            let ev = v["event"].as_str().expect("event").to_string();
            match ev.as_str() {
                "send" | "recv" => {
                    for k in ["flags", "seq", "ack", "len", "win"] {
                        assert!(v.get(k).is_some(), "{k} in {line}");
                    }
                }
                "state" => {
                    for k in ["from", "to", "cause"] {
                        assert!(v[k].is_string(), "{k} in {line}");
                    }
                }
                _ => {}
            }
            if opts.explain && ev != "recv" {
                assert!(v["explain"].is_string(), "{line}");
            }
            events.insert(ev);
        }
        for e in ["send", "recv", "drop", "state", "timer"] {
            assert!(events.contains(e), "{e} missing");
        }
    }
}

#[test]
fn json_escapes_strings() {
    let hosts = [
        HostInfo {
            name: "cli\"ent\n\u{1}",
            addr: CLIENT.ip(),
        },
        HostInfo {
            name: "ser\\ver",
            addr: SERVER.ip(),
        },
    ];
    let out = render_jsonl(&fixture::textbook(), &hosts, &JsonOptions::default());
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        assert!(v["host"] == "cli\"ent\n\u{1}" || v["host"] == "ser\\ver");
    }
    xml_ok(&render_svg(
        &fixture::textbook(),
        &hosts,
        &SvgOptions::default(),
    ));
}

fn xml_ok(svg: &str) {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut depth = 0i32;
    let mut saw_svg = false;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if e.name().as_ref() == b"svg" {
                    saw_svg = true;
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Text(t)) => {
                t.unescape().expect("text unescapes");
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("SVG is not XML: {e}"),
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0, "unbalanced tags");
    assert!(saw_svg);
}

#[test]
fn svg_is_xml() {
    for lang in [Lang::En, Lang::Zh] {
        let svg = render_svg(
            &fixture::textbook(),
            &fixture::hosts(),
            &SvgOptions {
                lang,
                ..SvgOptions::default()
            },
        );
        xml_ok(&svg);
        assert!(svg.contains("CLOSED → SYN_SENT"));
        assert!(svg.contains(r#"class="x""#), "a drop cross");
    }
}

const STATES: [State; 11] = State::ALL;
// Every value of every event enum, listed by construction in the core
// (`all()`), so a new variant is covered here without editing this file.
fn causes() -> Vec<Cause> {
    Cause::all()
}

/// The reasons the stack itself gives. `SendReason::Observed` (what a
/// captured segment did) is explained from the segment by its own texts,
/// which `synack-capture`'s annotation tests check kind by kind; its JSON
/// names are checked here through `observed()`.
fn reasons() -> Vec<SendReason> {
    SendReason::all()
        .into_iter()
        .filter(|r| !matches!(r, SendReason::Observed(_)))
        .collect()
}

fn observed() -> Vec<SendReason> {
    SendReason::all()
        .into_iter()
        .filter(|r| matches!(r, SendReason::Observed(_)))
        .collect()
}

fn timers() -> Vec<TimerKind> {
    TimerKind::all()
}

fn drops() -> Vec<DropReason> {
    DropReason::all()
}

/// One of `all`, chosen by `rng`.
fn pick<T: Copy>(all: &[T], rng: &mut Rng) -> T {
    all[rng.below(all.len() as u64) as usize]
}

/// Every text is non-empty, not the fallback, and distinct from the others.
fn distinct(kind: &str, texts: Vec<String>, fallbacks: &[&str]) {
    let mut seen = std::collections::HashSet::new();
    for t in &texts {
        assert!(!t.trim().is_empty(), "{kind}: empty text");
        assert!(
            !fallbacks.contains(&t.as_str()),
            "{kind}: fallback text {t:?}"
        );
        assert!(seen.insert(t.clone()), "{kind}: duplicate text {t:?}");
    }
}

#[test]
fn every_variant_is_explained() {
    for lang in [Lang::En, Lang::Zh] {
        let fb = [synack_trace::UNEXPLAINED];
        distinct(
            "state",
            STATES
                .iter()
                .map(|s| state_text(*s, lang).to_string())
                .collect(),
            &fb,
        );
        for s in STATES {
            assert!(
                state_text(s, lang).starts_with(s.name()),
                "{s}: names the state"
            );
        }
        distinct(
            "cause",
            causes()
                .iter()
                .map(|c| cause_text(*c, lang).to_string())
                .collect(),
            &fb,
        );
        distinct(
            "send reason",
            reasons()
                .iter()
                .map(|r| send_reason_text(*r, lang).to_string())
                .collect(),
            &fb,
        );
        distinct(
            "timer",
            timers()
                .iter()
                .map(|t| timer_text(*t, lang).to_string())
                .collect(),
            &fb,
        );
        distinct(
            "drop",
            drops().iter().map(|d| drop_reason_text(*d, lang)).collect(),
            &fb,
        );
        distinct(
            "link drop",
            [
                DropCause::Loss,
                DropCause::Rule("r".into()),
                DropCause::QueueFull,
                DropCause::TooBig,
                DropCause::NoRoute,
            ]
            .iter()
            .map(|c| link_drop_text(c, lang))
            .collect(),
            &fb,
        );
        distinct(
            "conn error",
            ConnError::all()
                .iter()
                .map(|e| conn_error_text(*e, lang).to_string())
                .collect(),
            &fb,
        );
    }
    distinct(
        "send name",
        reasons()
            .iter()
            .map(|r| send_reason_name(*r).to_string())
            .collect(),
        &[synack_trace::UNNAMED],
    );
    distinct(
        "drop name",
        drops().iter().map(|d| drop_reason_name(*d)).collect(),
        &[synack_trace::UNNAMED],
    );
    distinct(
        "cause name",
        causes()
            .iter()
            .map(|c| synack_trace::cause_name(*c).to_string())
            .collect(),
        &[synack_trace::UNNAMED],
    );
    distinct(
        "observed name",
        observed()
            .iter()
            .map(|r| send_reason_name(*r).to_string())
            .collect(),
        &[synack_trace::UNNAMED],
    );
    distinct(
        "conn error name",
        ConnError::all()
            .iter()
            .map(|e| synack_trace::conn_error_name(*e).to_string())
            .collect(),
        &[synack_trace::UNNAMED],
    );
    assert_eq!(
        send_reason_text(SendReason::KeepaliveProbe, Lang::En),
        "keepalive probe: seq=SND.NXT-1 asks the peer to answer"
    );
    assert!(send_reason_text(SendReason::ChallengeAck, Lang::En)
        .starts_with("challenge ACK (RFC 5961)"));
}

#[test]
fn every_variant_renders_in_a_ladder() {
    let ct = FourTuple {
        local: CLIENT,
        remote: SERVER,
    };
    let mut b = TraceBuilder::new();
    let c = conn().expect("conn");
    let mut t = 0;
    for from in STATES {
        for cause in causes() {
            b.state(t, 0, Some(c), None, ct, from, State::Closed, cause);
            t += 1;
        }
    }
    for timer in timers() {
        b.timer(t, 1, c, timer);
        t += 1;
    }
    for r in reasons() {
        let s = seg(CLIENT, SERVER, TcpFlags::ACK, 1, 1, 0);
        b.segment(t, 0, Some(c), 1, Some(c), s, b"", r, 1, None);
        t += 2;
    }
    for d in drops() {
        b.event(
            t,
            1,
            EventKind::Dropped {
                conn: None,
                seg: None,
                reason: d,
            },
        );
        t += 1;
    }
    b.event(
        t,
        0,
        EventKind::ConnectionError {
            conn: c,
            error: ConnError::Reset,
        },
    );
    b.event(t, 0, EventKind::EventsLost { count: 3 });
    let entries = b.build();
    for lang in [Lang::En, Lang::Zh] {
        let out = render_text(
            &entries,
            &fixture::hosts(),
            &TextOptions {
                lang,
                ..TextOptions::default()
            },
        );
        for r in reasons() {
            assert!(
                out.contains(send_reason_text(r, lang)) || r == SendReason::Normal,
                "{r:?}"
            );
        }
        for d in drops() {
            assert!(out.contains(&drop_reason_text(d, lang)), "{d:?}");
        }
        for timer in timers() {
            assert!(out.contains(timer_text(timer, lang)), "{timer:?}");
        }
        let json = render_jsonl(
            &entries,
            &fixture::hosts(),
            &JsonOptions {
                explain: true,
                lang,
                absolute: false,
            },
        );
        for line in json.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("json");
        }
        xml_ok(&render_svg(
            &entries,
            &fixture::hosts(),
            &SvgOptions {
                lang,
                ..SvgOptions::default()
            },
        ));
        render_mermaid(
            &entries,
            &fixture::hosts(),
            &MermaidOptions {
                explain: true,
                lang,
                absolute: true,
            },
        );
    }
}

#[test]
fn three_hosts_show_the_busiest_pair() {
    let mut entries = fixture::textbook();
    let other = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 5555);
    let mut b = TraceBuilder::new();
    let s = seg(other, SERVER, TcpFlags::SYN, 5, 0, 0);
    b.segment(1, 2, None, 1, None, s, b"", SendReason::Normal, 10, None);
    entries.extend(b.build());
    entries.sort_by_key(|e| e.at);
    let mut hosts = fixture::hosts();
    hosts.push(HostInfo {
        name: "attacker",
        addr: other.ip(),
    });
    let out = render_text(&entries, &hosts, &plain());
    assert!(
        out.contains("3 hosts in the trace: showing client and server"),
        "{out}"
    );
    assert!(out.contains("1 events of other hosts not shown"), "{out}");
    assert!(!out.contains("seq=5 "), "{out}");
}

#[test]
fn listener_summary_and_snapshot() {
    let out = render_text(
        &fixture::textbook(),
        &fixture::hosts(),
        &TextOptions::default(),
    );
    assert!(out.contains("listener server 10.0.0.2:80"), "{out}");
    assert!(out.contains("half-open entries created  1"), "{out}");
    let view = ListenerView {
        name: "server :80".into(),
        half_open: 128,
        half_open_limit: Some(128),
        accept_queue: Some(3),
        accept_limit: Some(16),
        distinct_sources: 1000,
        cookies_sent: 900,
        cookies_validated: 2,
        syns_dropped: 0,
        synack_retransmits: 40,
        established: 2,
    };
    let opts = TextOptions {
        listeners: vec![view],
        ..TextOptions::default()
    };
    let out = render_text(&fixture::textbook(), &fixture::hosts(), &opts);
    assert!(out.contains("listener server :80"), "{out}");
    assert!(
        out.contains("half-open                  128 / 128"),
        "{out}"
    );
    assert!(out.contains("accept queue               3 / 16"), "{out}");
    assert!(!out.contains("half-open entries created"), "{out}");
}

#[test]
fn syn_flood_counters() {
    let mut b = TraceBuilder::new();
    let l = Some(synack_proto::ListenerId(0));
    let lt = FourTuple {
        local: SERVER,
        remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    };
    b.state(
        0,
        1,
        None,
        l,
        lt,
        State::Closed,
        State::Listen,
        Cause::Listen,
    );
    for i in 0..5u8 {
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, i % 3)),
            1000 + u16::from(i),
        );
        let syn = seg(src, SERVER, TcpFlags::SYN, 1, 0, 0);
        let t = u64::from(i);
        if i < 2 {
            let c = Some(ConnId {
                index: u32::from(i),
                generation: 0,
            });
            let tuple = FourTuple {
                local: SERVER,
                remote: src,
            };
            b.state(
                t,
                1,
                c,
                l,
                tuple,
                State::Listen,
                State::SynReceived,
                Cause::RecvSyn,
            );
        } else if i < 4 {
            let sa = seg(SERVER, src, TcpFlags::SYN | TcpFlags::ACK, 77, 2, 0);
            b.event(
                t,
                1,
                EventKind::SegmentSent {
                    conn: None,
                    seg: sa,
                    reason: SendReason::SynCookie,
                },
            );
        } else {
            b.event(
                t,
                1,
                EventKind::Dropped {
                    conn: None,
                    seg: Some(syn),
                    reason: DropReason::SynQueueFull,
                },
            );
        }
    }
    let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1002);
    let tuple = FourTuple {
        local: SERVER,
        remote: src,
    };
    let c = Some(ConnId {
        index: 9,
        generation: 0,
    });
    b.state(
        10,
        1,
        c,
        l,
        tuple,
        State::Listen,
        State::Established,
        Cause::SynCookie,
    );
    let stats = synack_trace::listener_stats(&b.build(), &fixture::hosts());
    assert_eq!(stats.len(), 1);
    let s = &stats[0];
    assert_eq!(s.half_open_created, 2);
    assert_eq!(s.half_open_now, 2);
    assert_eq!(s.cookies_sent, 2);
    assert_eq!(s.cookies_validated, 1);
    assert_eq!(s.syns_dropped, 1);
    assert_eq!(s.established, 1);
    assert_eq!(s.distinct_sources, 3);
}

/// A small deterministic generator for arbitrary traces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn arbitrary_traces_never_panic() {
    let mut rng = Rng(7);
    let all_hosts = [
        HostInfo {
            name: "a",
            addr: CLIENT.ip(),
        },
        HostInfo {
            name: "b",
            addr: SERVER.ip(),
        },
        HostInfo {
            name: "",
            addr: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
        },
    ];
    for round in 0..300 {
        let n = rng.below(40) as usize;
        let mut entries = Vec::new();
        let mut t = 0u64;
        for _ in 0..n {
            t += rng.below(3) * 1000;
            let host = rng.below(5) as usize;
            let at = Instant::from_micros(if rng.below(20) == 0 {
                u64::MAX - rng.below(3)
            } else {
                t
            });
            let addrs = [
                CLIENT,
                SERVER,
                SocketAddr::new(IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)), 0),
            ];
            let s = seg(
                addrs[rng.below(3) as usize],
                addrs[rng.below(3) as usize],
                TcpFlags(rng.below(256) as u8),
                rng.next() as u32,
                rng.next() as u32,
                rng.below(2000) as u32,
            );
            let kind = match rng.below(7) {
                0 => TraceKind::Stack(Event {
                    at,
                    kind: EventKind::SegmentSent {
                        conn: conn(),
                        seg: s,
                        reason: pick(&reasons(), &mut rng),
                    },
                }),
                1 => TraceKind::Stack(Event {
                    at,
                    kind: EventKind::SegmentReceived { conn: None, seg: s },
                }),
                2 => TraceKind::Stack(Event {
                    at,
                    kind: EventKind::Dropped {
                        conn: None,
                        seg: (rng.below(2) == 0).then_some(s),
                        reason: pick(&drops(), &mut rng),
                    },
                }),
                3 => TraceKind::Stack(Event {
                    at,
                    kind: EventKind::StateChanged {
                        conn: conn(),
                        listener: None,
                        tuple: FourTuple {
                            local: s.src,
                            remote: s.dst,
                        },
                        from: STATES[rng.below(11) as usize],
                        to: STATES[rng.below(11) as usize],
                        cause: pick(&causes(), &mut rng),
                    },
                }),
                4 => TraceKind::Stack(Event {
                    at,
                    kind: EventKind::TimerFired {
                        conn: ConnId {
                            index: 0,
                            generation: 0,
                        },
                        timer: pick(&timers(), &mut rng),
                    },
                }),
                _ => {
                    let mut packet = fixture::packet(&s, &[]);
                    match rng.below(4) {
                        0 => packet.truncate(rng.below(packet.len() as u64 + 1) as usize),
                        1 => {
                            for b in packet.iter_mut() {
                                *b = rng.next() as u8;
                            }
                        }
                        _ => {}
                    }
                    let fate = match rng.below(4) {
                        0 => LinkFate::Dropped(DropCause::Rule("\u{0}<\"&".into())),
                        1 => LinkFate::Corrupted { at },
                        2 => LinkFate::Duplicated { at, again: at },
                        _ => LinkFate::Delivered {
                            at: Instant::from_micros(t + 10),
                        },
                    };
                    TraceKind::Link(LinkEvent {
                        from: rng.below(4) as usize,
                        to: rng.below(4) as usize,
                        packet,
                        fate,
                    })
                }
            };
            entries.push(TraceEntry { at, host, kind });
        }
        let hosts = &all_hosts[..(round % 4).min(3)];
        for lang in [Lang::En, Lang::Zh] {
            let absolute = round % 2 == 0;
            render_text(
                &entries,
                hosts,
                &TextOptions {
                    lang,
                    absolute,
                    color: round % 3 == 0,
                    ascii: round % 5 == 0,
                    ..TextOptions::default()
                },
            );
            for line in render_jsonl(
                &entries,
                hosts,
                &JsonOptions {
                    lang,
                    absolute,
                    explain: true,
                },
            )
            .lines()
            {
                serde_json::from_str::<serde_json::Value>(line).expect("json");
            }
            render_mermaid(
                &entries,
                hosts,
                &MermaidOptions {
                    lang,
                    absolute,
                    explain: true,
                },
            );
            xml_ok(&render_svg(
                &entries,
                hosts,
                &SvgOptions {
                    lang,
                    absolute,
                    explain: true,
                },
            ));
            let mut buf = Vec::new();
            synack_trace::write_pcap(
                &entries,
                &mut buf,
                &synack_trace::PcapOptions {
                    include_dropped: true,
                },
            )
            .expect("pcap");
        }
    }
    // The empty trace too.
    let empty = render_text(&[], &[], &TextOptions::default());
    assert!(empty.contains("host0"));
    xml_ok(&render_svg(&[], &[], &SvgOptions::default()));
}

#[test]
fn huge_host_ids_are_named_not_allocated() {
    let mut entries = fixture::textbook();
    entries.push(TraceEntry {
        at: Instant::from_millis(1),
        host: usize::MAX,
        kind: TraceKind::Stack(Event {
            at: Instant::from_millis(1),
            kind: EventKind::TimerFired {
                conn: ConnId {
                    index: 0,
                    generation: 0,
                },
                timer: TimerKind::Keepalive,
            },
        }),
    });
    let out = render_text(&entries, &fixture::hosts(), &plain());
    assert!(out.contains("3 hosts in the trace"), "{out}");
    let json = render_jsonl(&entries, &fixture::hosts(), &JsonOptions::default());
    assert!(json.contains(&format!("\"host\":\"host{}\"", usize::MAX)));
}
