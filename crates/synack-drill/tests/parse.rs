//! Unit tests of the script parser, one small hand-written script per
//! construct and per error path.

use synack_drill::{
    parse_file, parse_str, Defines, Direction, EcnCodepoint, EventKind, Expr, IpAttr, PacketEvent,
    ParseError, ParseErrorKind, SackBlock, Script, SeqSpec, SyscallEvent, TcpFlags, TcpOption,
    TcpOptions, TcpPacket, TimeSpec, UdpEncapsulation,
};

fn parse(text: &str) -> Script {
    match parse_str(text, "t.pkt", &Defines::standard()) {
        Ok(s) => s,
        Err(e) => panic!("unexpected parse error: {e}"),
    }
}

fn err(text: &str) -> ParseError {
    match parse_str(text, "t.pkt", &Defines::standard()) {
        Ok(s) => panic!("expected an error, parsed {s:?}"),
        Err(e) => e,
    }
}

fn tcp(text: &str) -> TcpPacket {
    let s = parse(text);
    match &s.events[0].kind {
        EventKind::Packet(PacketEvent::Tcp(p)) => p.clone(),
        other => panic!("not a TCP packet: {other:?}"),
    }
}

fn syscall(text: &str) -> SyscallEvent {
    let s = parse(text);
    match &s.events[0].kind {
        EventKind::Syscall(c) => c.clone(),
        other => panic!("not a syscall: {other:?}"),
    }
}

fn sym(s: &str) -> Expr {
    Expr::Symbol(s.to_string())
}

fn expected_msg(e: &ParseError) -> (String, String) {
    match &e.kind {
        ParseErrorKind::Expected { expected, found } => (expected.clone(), found.clone()),
        other => panic!("not an Expected error: {other:?}"),
    }
}

fn invalid_msg(e: &ParseError) -> String {
    match &e.kind {
        ParseErrorKind::Invalid(m) => m.clone(),
        other => panic!("not an Invalid error: {other:?}"),
    }
}

// ----- options -----------------------------------------------------------

#[test]
fn option_lines_keep_names_and_values() {
    let s = parse(
        "--ip_version=ipv4\n--tolerance_usecs=25000\n--strict_segments\n\
         --init_scripts=a,b\n0 close(3) = 0\n",
    );
    assert_eq!(s.options.len(), 4);
    assert_eq!(s.ip_version(), Some("ipv4"));
    assert_eq!(s.tolerance_usecs(), Some(25_000));
    assert_eq!(s.option("strict_segments"), Some(None));
    assert_eq!(s.option("init_scripts"), Some(Some("a,b")));
    assert_eq!(s.option("mtu"), None);
    assert_eq!(s.options[1].line, 2);
}

#[test]
fn option_after_first_event_is_an_error() {
    let e = err("0 close(3) = 0\n--mss=1000\n");
    assert_eq!(e.line, 2);
    assert!(invalid_msg(&e).contains("--mss"));
}

// ----- times -------------------------------------------------------------

#[test]
fn time_specs_of_every_form() {
    let s = parse(
        "0.100 close(3) = 0\n\
         +0.1 close(3) = 0\n\
         + 3.0 close(3) = 0\n\
         .5 close(3) = 0\n\
         2 close(3) = 0\n\
         * > . 1:1(0) ack 1\n\
         0.1~0.2 > . 1:1(0) ack 1\n\
         +.3~+.400 > . 1:1(0) ack 1\n\
         +0...0.200 accept(3, ..., ...) = 4\n\
         1.00...6.00 connect(3, ..., ...) = 0\n",
    );
    let times: Vec<TimeSpec> = s.events.iter().map(|e| e.time).collect();
    assert_eq!(
        times,
        vec![
            TimeSpec::Absolute(100_000),
            TimeSpec::Relative(100_000),
            TimeSpec::Relative(3_000_000),
            TimeSpec::Absolute(500_000),
            TimeSpec::Absolute(2_000_000),
            TimeSpec::Any,
            TimeSpec::Range {
                relative: false,
                start: 100_000,
                end: 200_000
            },
            TimeSpec::Range {
                relative: true,
                start: 300_000,
                end: 400_000
            },
            TimeSpec::Blocking {
                relative: true,
                start: 0,
                end: 200_000
            },
            TimeSpec::Blocking {
                relative: false,
                start: 1_000_000,
                end: 6_000_000
            },
        ]
    );
    let lines: Vec<u32> = s.events.iter().map(|e| e.line).collect();
    assert_eq!(lines, (1..=10).collect::<Vec<_>>());
}

#[test]
fn any_time_only_on_outbound_packets() {
    let e = err("* close(3) = 0\n");
    assert!(invalid_msg(&e).contains("outbound"));
    let e = err("* < . 1:1(0) ack 1 win 10\n");
    assert!(invalid_msg(&e).contains("outbound"));
}

#[test]
fn range_only_on_outbound_packets() {
    let e = err("0\n+0.1~+0.2 write(3, ..., 10) = 10\n");
    // The first line is a bare time with no action.
    assert_eq!(e.line, 1);
    let e = err("0.1~0.2 write(3, ..., 10) = 10\n");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(invalid_msg(&e).contains("outbound"));
}

#[test]
fn blocking_time_only_on_syscalls() {
    let e = err("0...0.1 > . 1:1(0) ack 1\n");
    assert!(invalid_msg(&e).contains("syscalls"));
}

#[test]
fn backwards_and_mixed_ranges_are_errors() {
    assert!(invalid_msg(&err("0.3~0.2 > . 1:1(0)\n")).contains("before it starts"));
    assert!(invalid_msg(&err("+0.1~0.2 > . 1:1(0)\n")).contains("both relative"));
    assert!(invalid_msg(&err("0.3...0.2 close(3) = 0\n")).contains("before it starts"));
    assert!(invalid_msg(&err("0.1...+0.2 close(3) = 0\n")).contains("cannot be relative"));
}

#[test]
fn missing_time_is_reported() {
    let e = err("close(3) = 0\n");
    let (exp, found) = expected_msg(&e);
    assert!(exp.contains("event time"));
    assert_eq!(found, "'close'");
    assert_eq!((e.line, e.column), (1, 1));
}

#[test]
fn time_without_action_is_reported() {
    let e = err("0 close(3) = 0\n+1\n");
    let (exp, found) = expected_msg(&e);
    assert!(exp.contains("after the time"), "{exp}");
    assert_eq!(found, "end of file");
    assert_eq!(e.line, 2);
}

// ----- packets -----------------------------------------------------------

#[test]
fn inbound_syn_with_options() {
    let p = tcp("0 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>\n");
    assert_eq!(p.direction, Direction::Inbound);
    assert_eq!(
        p.flags,
        TcpFlags {
            syn: true,
            ..TcpFlags::default()
        }
    );
    assert_eq!(
        p.seq,
        SeqSpec::Range {
            start: 0,
            end: 0,
            len: 0,
            absolute: false
        }
    );
    assert_eq!(p.ack, None);
    assert_eq!(p.window, Some(32792));
    assert_eq!(
        p.options,
        TcpOptions::List(vec![
            TcpOption::Mss(1460),
            TcpOption::SackPermitted,
            TcpOption::Nop,
            TcpOption::Nop,
            TcpOption::Nop,
            TcpOption::WindowScale(7),
        ])
    );
}

#[test]
fn outbound_syn_ack_with_timestamps_and_no_window() {
    let p = tcp("0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>\n");
    assert_eq!(p.direction, Direction::Outbound);
    assert!(p.flags.syn && p.flags.ack && !p.flags.fin);
    assert_eq!(p.ack, Some(1));
    assert_eq!(p.window, None);
    let TcpOptions::List(opts) = p.options else {
        panic!("no options")
    };
    assert_eq!(
        opts[2],
        TcpOption::Timestamp {
            val: Some(100),
            ecr: 0,
            ecr_absolute: false
        }
    );
}

#[test]
fn flag_combinations() {
    let cases: &[(&str, TcpFlags)] = &[
        (
            ".",
            TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "F.",
            TcpFlags {
                fin: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "R.",
            TcpFlags {
                rst: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "P.",
            TcpFlags {
                psh: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "FP.",
            TcpFlags {
                fin: true,
                psh: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "R",
            TcpFlags {
                rst: true,
                ..TcpFlags::default()
            },
        ),
        (
            "SEW",
            TcpFlags {
                syn: true,
                ece: true,
                cwr: true,
                ..TcpFlags::default()
            },
        ),
        (
            "SE.",
            TcpFlags {
                syn: true,
                ece: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "SF",
            TcpFlags {
                syn: true,
                fin: true,
                ..TcpFlags::default()
            },
        ),
        (
            "U.",
            TcpFlags {
                urg: true,
                ack: true,
                ..TcpFlags::default()
            },
        ),
        (
            "SA",
            TcpFlags {
                syn: true,
                ae: true,
                ..TcpFlags::default()
            },
        ),
        ("-", TcpFlags::default()),
    ];
    for (flags, want) in cases {
        let p = tcp(&format!("0 > {flags} 1:1(0) ack 1\n"));
        assert_eq!(p.flags, *want, "flags {flags}");
    }
    let p = tcp("0 > S3 0:0(0)\n");
    assert_eq!(p.flags.ace, Some(3));
}

#[test]
fn ack_field_without_ack_flag_is_legal() {
    let p = tcp("0 < R 1:1(0) ack 0 win 0\n");
    assert!(!p.flags.ack);
    assert_eq!(p.ack, Some(0));
}

#[test]
fn data_fin_and_urgent_ranges() {
    let p = tcp("0 > P. 1:1001(1000) ack 1 win 65535 urg 3\n");
    assert_eq!(
        p.seq,
        SeqSpec::Range {
            start: 1,
            end: 1001,
            len: 1000,
            absolute: false
        }
    );
    assert_eq!(p.seq.len(), 1000);
    assert_eq!(p.urgent, Some(3));
    let p = tcp("0 > F. 1001:1001(0) ack 1\n");
    assert!(p.seq.is_empty());
    // Wrap-around is consistent modulo 2^32.
    let p = tcp("0 < . 4294967295:4(5) ack 1 win 10\n");
    assert_eq!(p.seq.len(), 5);
}

#[test]
fn absolute_and_wildcard_sequence_numbers() {
    let p = tcp("0 > R. 0:0(0)! ack 2! win 0\n");
    assert_eq!(
        p.seq,
        SeqSpec::Range {
            start: 0,
            end: 0,
            len: 0,
            absolute: true
        }
    );
    assert!(p.ack_absolute);
    let p = tcp("0 > P. ...(100) ack 1\n");
    assert_eq!(p.seq, SeqSpec::Any { len: 100 });
}

#[test]
fn sack_blocks_eol_and_spacing_habits() {
    let p = tcp("0 < . 1:1(0) ack 1 win 257 <sack 1461:2921 4381:5841,nop, nop , eol>\n");
    assert_eq!(
        p.options,
        TcpOptions::List(vec![
            TcpOption::Sack(vec![
                SackBlock {
                    left: 1461,
                    right: 2921
                },
                SackBlock {
                    left: 4381,
                    right: 5841
                },
            ]),
            TcpOption::Nop,
            TcpOption::Nop,
            TcpOption::Eol,
        ])
    );
    let p = tcp("0 < S 0:0(0) win 10 <mss 1460 ,sackOK,TS val  100 ecr 0>\n");
    let TcpOptions::List(opts) = p.options else {
        panic!()
    };
    assert_eq!(opts.len(), 3);
}

#[test]
fn less_common_options() {
    let p = tcp(
        "0 > S. 0:0(0) ack 1 <md5 valid,FO 8f4a21bc,FOEXP,ECN e0b 1 ceb 2,TS val ... ecr 7!>\n",
    );
    assert_eq!(
        p.options,
        TcpOptions::List(vec![
            TcpOption::Md5("valid".into()),
            TcpOption::FastOpen {
                experimental: false,
                cookie: Some("8f4a21bc".into())
            },
            TcpOption::FastOpen {
                experimental: true,
                cookie: None
            },
            TcpOption::AccEcn {
                counters: vec![("e0b".into(), 1), ("ceb".into(), 2)]
            },
            TcpOption::Timestamp {
                val: None,
                ecr: 7,
                ecr_absolute: true
            },
        ])
    );
}

#[test]
fn option_wildcard_and_empty_list() {
    assert_eq!(tcp("0 > S 0:0(0) <...>\n").options, TcpOptions::Any);
    assert_eq!(tcp("0 > S 0:0(0) <>\n").options, TcpOptions::List(vec![]));
    assert_eq!(tcp("0 > S 0:0(0)\n").options, TcpOptions::None);
}

#[test]
fn ip_annotations_with_and_without_space() {
    let p = tcp("0 <[noecn] . 1:1(0) ack 1 win 10\n");
    assert_eq!(p.ip, vec![IpAttr::Ecn(EcnCodepoint::NotEct)]);
    let p = tcp("0 >[ect0] P. 1:11(10) ack 1\n");
    assert_eq!(p.ip, vec![IpAttr::Ecn(EcnCodepoint::Ect0)]);
    let p = tcp("0 > [ect1] . 1:1(0) ack 1\n");
    assert_eq!(p.ip, vec![IpAttr::Ecn(EcnCodepoint::Ect1)]);
    let p = tcp("0 > [ce] . 1:1(0) ack 1\n");
    assert_eq!(p.ip, vec![IpAttr::Ecn(EcnCodepoint::Ce)]);
    let p = tcp("0 > [ect01] . 1:1(0) ack 1\n");
    assert_eq!(p.ip, vec![IpAttr::Ecn(EcnCodepoint::Ect01)]);
    let p = tcp("0 < (tos 0x28) S 0:0(0) win 10\n");
    assert_eq!(p.ip, vec![IpAttr::Tos(0x28)]);
    let p = tcp("0 < (ttl 3) S 0:0(0) win 10\n");
    assert_eq!(p.ip, vec![IpAttr::Ttl(3)]);
    let p = tcp("0 < (hlim 3) S 0:0(0) win 10\n");
    assert_eq!(p.ip, vec![IpAttr::HopLimit(3)]);
    let p = tcp("0 > (class 0xe0, flowlabel 0x12345) R 0:0(0)\n");
    assert_eq!(
        p.ip,
        vec![IpAttr::TrafficClass(0xe0), IpAttr::FlowLabel(0x12345)]
    );
}

#[test]
fn udp_encapsulation_and_explicit_ports() {
    let p = tcp("0 < S 1:1(0) win 32767 <nop,nop,md5 valid>/udp(1 > 9811)\n");
    assert_eq!(
        p.encapsulation,
        Some(UdpEncapsulation {
            src_port: 1,
            dst_port: 9811
        })
    );
    let p = tcp("0 > R 0:0(0) win 0/udp(9811 > 1)\n");
    assert_eq!(
        p.encapsulation,
        Some(UdpEncapsulation {
            src_port: 9811,
            dst_port: 1
        })
    );
    let p = tcp("0 < 5555>8080 S 0:0(0) win 10\n");
    assert_eq!(p.ports, Some((5555, 8080)));
}

#[test]
fn icmp_and_udp_packets() {
    let s = parse(
        "0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n\
         +0 <icmp unreachable port_unreachable [0:0(0)]\n\
         +0 < icmp source_quench [4294967295:4294967295(0)]\n\
         +0 > udp (20)\n",
    );
    let EventKind::Packet(PacketEvent::Icmp(i)) = &s.events[0].kind else {
        panic!()
    };
    assert_eq!(i.icmp_type, "unreachable");
    assert_eq!(i.code.as_deref(), Some("frag_needed"));
    assert_eq!(i.mtu, Some(1200));
    assert_eq!(
        i.echoed,
        Some(SeqSpec::Range {
            start: 1,
            end: 1461,
            len: 1460,
            absolute: false
        })
    );
    let EventKind::Packet(PacketEvent::Icmp(i)) = &s.events[2].kind else {
        panic!()
    };
    assert_eq!(i.code, None);
    let EventKind::Packet(PacketEvent::Udp(u)) = &s.events[3].kind else {
        panic!()
    };
    assert_eq!((u.direction, u.len), (Direction::Outbound, 20));
}

#[test]
fn inconsistent_sequence_range() {
    let e = err("0 < . 1:10(5) ack 1 win 10\n");
    assert!(invalid_msg(&e).contains("1 + 5 != 10"));
    assert_eq!((e.line, e.column), (1, 7));
}

#[test]
fn unknown_flag() {
    let e = err("0 > SQ 0:0(0)\n");
    assert!(invalid_msg(&e).contains("unknown TCP flag 'Q'"));
    let (exp, _) = expected_msg(&err("0 > , 0:0(0)\n"));
    assert!(exp.contains("TCP flags"));
}

#[test]
fn inbound_packet_requires_window() {
    let e = err("0 < . 1:1(0) ack 1\n");
    let (exp, found) = expected_msg(&e);
    assert!(exp.contains("win N"));
    assert_eq!(found, "end of file");
}

#[test]
fn option_wildcard_is_outbound_only() {
    let e = err("0 < S 0:0(0) win 10 <...>\n");
    assert!(invalid_msg(&e).contains("outbound"));
}

#[test]
fn unknown_tcp_option_and_bad_lists() {
    assert!(invalid_msg(&err("0 > S 0:0(0) <foo 3>\n")).contains("unknown TCP option 'foo'"));
    let (exp, found) = expected_msg(&err("0 > S 0:0(0) <mss 1460 nop>\n"));
    assert_eq!(
        (exp.as_str(), found.as_str()),
        ("',' or '>' in the TCP option list", "'nop'")
    );
    let (exp, _) = expected_msg(&err("0 > S 0:0(0) <TS 1 ecr 2>\n"));
    assert_eq!(exp, "'val' after 'TS'");
    let (exp, _) = expected_msg(&err("0 > S 0:0(0) <sack>\n"));
    assert!(exp.contains("SACK block"));
    let (exp, _) = expected_msg(&err("0 > S 0:0(0) <md5>\n"));
    assert!(exp.contains("MD5"));
    let (exp, _) = expected_msg(&err("0 > S 0:0(0) <ECN>\n"));
    assert!(exp.contains("e0b"));
}

#[test]
fn numbers_out_of_range() {
    let e = err("0 < S 0:0(0) win 70000\n");
    assert!(matches!(
        e.kind,
        ParseErrorKind::NumberOutOfRange {
            what: "a window",
            ..
        }
    ));
    let e = err("0 < S 4294967296:4294967296(0) win 1\n");
    assert!(matches!(e.kind, ParseErrorKind::NumberOutOfRange { .. }));
    let e = err("0 > S 0:0(0) <wscale 300>\n");
    assert!(matches!(e.kind, ParseErrorKind::NumberOutOfRange { .. }));
    let e = err("0 close(99999999999999999999) = 0\n");
    assert!(matches!(e.kind, ParseErrorKind::NumberOutOfRange { .. }));
    let e = err("0 close(18446744073709551615) = 0\n");
    assert!(matches!(
        e.kind,
        ParseErrorKind::NumberOutOfRange {
            what: "an expression",
            ..
        }
    ));
    let e = err("99999999999999 close(3) = 0\n");
    assert!(matches!(
        e.kind,
        ParseErrorKind::NumberOutOfRange { what: "a time", .. }
    ));
}

#[test]
fn bad_ip_annotation() {
    let (exp, found) = expected_msg(&err("0 < [foo] S 0:0(0) win 1\n"));
    assert!(exp.contains("IP annotation"));
    assert_eq!(found, "'foo'");
    let (exp, _) = expected_msg(&err("0 < [ect0 S 0:0(0) win 1\n"));
    assert_eq!(exp, "']' after the IP annotation");
}

#[test]
fn duplicate_fields() {
    assert!(invalid_msg(&err("0 < . 1:1(0) ack 1 ack 2 win 1\n")).contains("twice"));
}

// ----- syscalls ----------------------------------------------------------

#[test]
fn socket_setsockopt_bind_accept() {
    let s = parse(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
         +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n\
         +0 bind(3, ..., ...) = 0\n\
         +0 accept(3, ..., ...) = 4\n",
    );
    let EventKind::Syscall(c) = &s.events[0].kind else {
        panic!()
    };
    assert_eq!(c.name, "socket");
    assert_eq!(
        c.args,
        vec![Expr::Ellipsis, sym("SOCK_STREAM"), sym("IPPROTO_TCP")]
    );
    assert_eq!(c.result.value, Expr::Int(3));
    let EventKind::Syscall(c) = &s.events[1].kind else {
        panic!()
    };
    assert_eq!(c.args[3], Expr::Array(vec![Expr::Int(1)]));
    let EventKind::Syscall(c) = &s.events[3].kind else {
        panic!()
    };
    assert_eq!(
        (c.name.as_str(), &c.result.value),
        ("accept", &Expr::Int(4))
    );
}

#[test]
fn errno_and_note() {
    let c = syscall("0 write(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n");
    assert_eq!(c.result.value, Expr::Int(-1));
    assert_eq!(c.result.errno.as_deref(), Some("EAGAIN"));
    assert_eq!(
        c.result.note.as_deref(),
        Some("Resource temporarily unavailable")
    );
    let c = syscall("0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)\n");
    assert_eq!(c.result.value, Expr::Int(2));
    assert_eq!(c.result.errno, None);
    assert_eq!(c.result.note.as_deref(), Some("flags O_RDWR"));
    // Free text may hold characters that are no tokens, and parentheses.
    let c = syscall("0 bind(3, ..., ...) = -1 EADDRNOTAVAIL (Can't assign (local) address $x)\n");
    assert_eq!(
        c.result.note.as_deref(),
        Some("Can't assign (local) address $x")
    );
    let c = syscall("0 fcntl(3, F_GETFL) = O_RDWR|O_NONBLOCK\n");
    assert_eq!(
        c.result.value,
        Expr::BitOr(vec![sym("O_RDWR"), sym("O_NONBLOCK")])
    );
}

#[test]
fn struct_literals_calls_and_bit_or() {
    let c = syscall("0 setsockopt(4, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n");
    assert_eq!(
        c.args[3],
        Expr::Struct(vec![
            Expr::Field {
                lhs: Box::new(sym("l_onoff")),
                rhs: Box::new(Expr::Int(1))
            },
            Expr::Field {
                lhs: Box::new(sym("l_linger")),
                rhs: Box::new(Expr::Int(0))
            },
        ])
    );
    let c = syscall(
        "0 connect(3, {sin_family=AF_INET, sin_port=htons(8080), \
         sin_addr=inet_addr(\"192.0.2.1\")}, 16) = 0\n",
    );
    let Expr::Struct(fields) = &c.args[1] else {
        panic!()
    };
    assert_eq!(
        fields[1],
        Expr::Field {
            lhs: Box::new(sym("sin_port")),
            rhs: Box::new(Expr::Call {
                name: "htons".into(),
                args: vec![Expr::Int(8080)]
            }),
        }
    );
    assert_eq!(
        fields[2],
        Expr::Field {
            lhs: Box::new(sym("sin_addr")),
            rhs: Box::new(Expr::Call {
                name: "inet_addr".into(),
                args: vec![Expr::Str("192.0.2.1".into())]
            }),
        }
    );
    let c = syscall("0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0\n");
    assert_eq!(
        c.args[2],
        Expr::BitOr(vec![sym("O_RDWR"), sym("O_NONBLOCK")])
    );
    let c = syscall("0 poll([{fd=3, events=POLLIN|POLLOUT, revents=0}], 1, 0) = 1\n");
    let Expr::Array(items) = &c.args[0] else {
        panic!()
    };
    let Expr::Struct(fields) = &items[0] else {
        panic!()
    };
    assert_eq!(
        fields[1],
        Expr::Field {
            lhs: Box::new(sym("events")),
            rhs: Box::new(Expr::BitOr(vec![sym("POLLIN"), sym("POLLOUT")])),
        }
    );
}

#[test]
fn msghdr_strings_and_empty_arguments() {
    let c = syscall(
        "0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 100}], msg_flags=0}, 0) = 100\n",
    );
    let Expr::Struct(fields) = &c.args[1] else {
        panic!()
    };
    assert_eq!(
        fields[1],
        Expr::Field {
            lhs: Box::new(Expr::Call {
                name: "msg_iov".into(),
                args: vec![Expr::Int(1)]
            }),
            rhs: Box::new(Expr::Array(vec![Expr::Struct(vec![
                Expr::Ellipsis,
                Expr::Int(100)
            ])])),
        }
    );
    let c = syscall("0 write(4, \"GET / \\\"x\\\"\"..., 10) = 10\n");
    assert_eq!(c.args[1], Expr::StrPrefix("GET / \\\"x\\\"".into()));
    let c = syscall("0 getpid() = ...\n");
    assert!(c.args.is_empty());
    assert_eq!(c.result.value, Expr::Ellipsis);
    let c = syscall("0 setsockopt(3, SOL_SOCKET, SO_RCVLOWAT, [-1], 4) = -1 EINVAL\n");
    assert_eq!(c.args[3], Expr::Array(vec![Expr::Int(-1)]));
    assert_eq!(c.result.errno.as_deref(), Some("EINVAL"));
}

#[test]
fn syscall_spanning_lines_and_trailing_comment() {
    let s = parse(
        "0 setsockopt(3,\n   SOL_SOCKET,\n   SO_REUSEADDR, [1], 4)\n   = 0 // done\n\
         +0 close(3) = 0\n",
    );
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.events[1].line, 5);
}

#[test]
fn missing_close_paren_names_file_line_and_column() {
    let e = err("0 close(3) = 0\n+0 read(4, ..., 1000 x) = 1000\n");
    assert_eq!(
        e.to_string(),
        "t.pkt:2:22: expected ')' after syscall arguments, found 'x'"
    );
    // At the end of a line the error points just past the last token.
    let e = err("0 close(3\n+0 close(4) = 0\n");
    assert_eq!(
        e.to_string(),
        "t.pkt:1:10: expected ')' after syscall arguments, found end of line"
    );
}

#[test]
fn missing_result() {
    let (exp, found) = expected_msg(&err("0 close(3)\n+0 close(4) = 0\n"));
    assert!(exp.starts_with("'='"));
    assert_eq!(found, "end of line");
    let (exp, found) = expected_msg(&err("0 close(3) = (oops)\n"));
    assert!(exp.contains("result"));
    assert_eq!(found, "'('");
    let e = err("0 close(3) = -1 EBADF (Bad file\n");
    let (exp, found) = expected_msg(&e);
    assert!(exp.contains("note"));
    assert_eq!((found.as_str(), e.line, e.column), ("end of file", 1, 23));
}

#[test]
fn bad_arguments() {
    let (exp, found) = expected_msg(&err("0 close(3,) = 0\n"));
    assert!(exp.contains("syscall argument"));
    assert_eq!(found, "')'");
    let (exp, _) = expected_msg(&err("0 f([1, 2) = 0\n"));
    assert_eq!(exp, "',' or ']' in the array");
    let (exp, _) = expected_msg(&err("0 f({a=1) = 0\n"));
    assert_eq!(exp, "',' or '}' in the struct");
    let (exp, _) = expected_msg(&err("0 f(g(1 x) = 0\n"));
    assert_eq!(exp, "',' or ')' in the call arguments");
    let (_, found) = expected_msg(&err("0 f(3, $) = 0\n"));
    assert_eq!(found, "'$'");
    let e = err("0 close(3 = 0\n");
    assert_eq!(
        e.to_string(),
        "t.pkt:1:11: expected ')' after syscall arguments, found '='"
    );
    let (exp, _) = expected_msg(&err("0 f(3, -x) = 0\n"));
    assert_eq!(exp, "a number");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("0 f({}1{}) = 0\n", "[".repeat(10_000), "]".repeat(10_000));
    let e = err(&deep);
    assert_eq!(
        e.kind,
        ParseErrorKind::NestingTooDeep(synack_drill::MAX_EXPR_DEPTH)
    );
}

// ----- commands and code -------------------------------------------------

#[test]
fn timed_and_untimed_commands() {
    let s = parse(
        "--tolerance_usecs=1000\n\
         `../common/defaults.sh\n  ../common/extra.sh`\n\
         0 `sysctl -w net.inet.tcp.sack.enable=1`\n\
         +0 `sockstat -4 | grep -c TIME_WAIT | grep 1`\n\
         `/tmp/restore.sh`\n",
    );
    let init = s.init_command.as_ref().map(|c| (c.line, c.text.as_str()));
    assert_eq!(
        init,
        Some((2, "../common/defaults.sh\n  ../common/extra.sh"))
    );
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.events[0].line, 4);
    assert_eq!(
        s.events[1].kind,
        EventKind::Command("sockstat -4 | grep -c TIME_WAIT | grep 1".into())
    );
    let cleanup = s
        .cleanup_command
        .as_ref()
        .map(|c| (c.line, c.text.as_str()));
    assert_eq!(cleanup, Some((6, "/tmp/restore.sh")));
}

#[test]
fn untimed_command_in_the_middle_is_an_error() {
    let e = err("0 close(3) = 0\n`echo hi`\n+0 close(4) = 0\n");
    assert_eq!(e.line, 2);
    assert!(expected_msg(&e).0.contains("a time before the command"));
    let e = err("0 `echo hi\n");
    assert_eq!(e.kind, ParseErrorKind::Unterminated("backtick command"));
    assert_eq!((e.line, e.column), (1, 3));
}

#[test]
fn code_blocks_are_verbatim_with_lines() {
    let s = parse(
        "0 close(3) = 0\n\
         +0 %{ assert tcpi_state == TCPI_LISTEN }%\n\
         +0\n%{\n# a python comment\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd // 2\n}%\n",
    );
    assert_eq!(
        s.events[1].kind,
        EventKind::Code(" assert tcpi_state == TCPI_LISTEN ".into())
    );
    assert_eq!((s.events[2].line, s.events[2].action_line), (3, 4));
    assert_eq!(
        s.events[2].kind,
        EventKind::Code(
            "\n# a python comment\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd // 2\n".into()
        )
    );
    let e = err("0 %{ assert 1\n");
    assert_eq!(e.kind, ParseErrorKind::Unterminated("%{ }% block"));
}

// ----- comments ----------------------------------------------------------

#[test]
fn comments_of_both_kinds() {
    let s = parse(
        "// leading comment\n\
         0 close(3) = 0 // trailing\n\
         /* a block comment\n+0 close(9) = 0\nspanning lines */ +0 close(4) = 0\n\
         +0 > . 1:1(0) ack 1 /* inline */ <nop>\n",
    );
    assert_eq!(s.events.len(), 3);
    assert_eq!(s.events[1].line, 5);
    let EventKind::Syscall(c) = &s.events[1].kind else {
        panic!()
    };
    assert_eq!(c.args, vec![Expr::Int(4)]);
    let e = err("0 close(3) = 0 /* never closed\n");
    assert_eq!(e.kind, ParseErrorKind::Unterminated("/* comment"));
}

#[test]
fn unterminated_string() {
    let e = err("0 write(3, \"abc, 3) = 3\n");
    assert_eq!(e.kind, ParseErrorKind::Unterminated("string"));
}

// ----- preprocessor ------------------------------------------------------

const IFDEF: &str = "0 close(3) = 0\n\
#ifdef STANDARD\n\
+0 close(4) = 0\n\
#else\n\
+0 close(5) = 0\n\
#endif\n\
#ifndef FreeBSD\n\
+0 close(6) = 0 // only without FreeBSD\n\
#endif\n";

fn closed_fds(s: &Script) -> Vec<i64> {
    s.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Syscall(c) => match c.args.first() {
                Some(Expr::Int(fd)) => Some(*fd),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn ifdef_selects_branches_from_the_define_set() {
    let std = parse_str(IFDEF, "t.pkt", &Defines::standard()).expect("parses");
    assert_eq!(closed_fds(&std), vec![3, 4, 6]);
    assert_eq!(std.events[1].line, 3);
    let bsd = parse_str(IFDEF, "t.pkt", &Defines::new().with("FreeBSD")).expect("parses");
    assert_eq!(closed_fds(&bsd), vec![3, 5]);
    let mut both = Defines::standard();
    both.define("FreeBSD", Some("1"));
    assert_eq!(both.value("FreeBSD"), Some("1"));
    let both_s = parse_str(IFDEF, "t.pkt", &both).expect("parses");
    assert_eq!(closed_fds(&both_s), vec![3, 4]);
    both.undefine("FreeBSD");
    assert!(!both.is_defined("FreeBSD"));
}

#[test]
fn nested_conditionals_and_skipped_garbage() {
    let text = "0 close(1) = 0\n\
                #ifdef A\n\
                  #ifdef B\n\
                  +0 close(2) = 0\n\
                  #else\n\
                  +0 close(3) = 0\n\
                  #endif\n\
                #else\n\
                  this line is not a script line (\n\
                  #include \"does-not-exist.pkt\"\n\
                  #pragma whatever\n\
                #endif\n";
    let s = parse_str(text, "t.pkt", &Defines::new().with("A")).expect("parses");
    assert_eq!(closed_fds(&s), vec![1, 3]);
    let s = parse_str(text, "t.pkt", &Defines::new().with("A").with("B")).expect("parses");
    assert_eq!(closed_fds(&s), vec![1, 2]);
    assert!(parse_str(text, "t.pkt", &Defines::new()).is_err());
}

#[test]
fn preprocessor_errors() {
    let pre = |text: &str| match err(text).kind {
        ParseErrorKind::Preprocessor(m) => m,
        other => panic!("{other:?}"),
    };
    assert!(pre("#else\n").contains("#else without"));
    assert!(pre("#endif\n").contains("#endif without"));
    assert!(pre("#ifdef A\n#else\n#else\n#endif\n").contains("second #else"));
    assert!(pre("#ifdef A\n0 close(3) = 0\n").contains("without matching #endif"));
    assert!(pre("#ifdef\n#endif\n").contains("symbol name"));
    assert!(pre("#ifdef A B\n#endif\n").contains("after #ifdef"));
    assert!(pre("#define A 1\n").contains("unknown directive #define"));
    assert!(pre("#include nofile\n").contains("\"file\""));
    let e = err("0 close(3) = 0\n  #ifdef X\n");
    assert_eq!((e.line, e.column), (2, 3));
    // A directive may carry a trailing comment.
    assert!(parse_str("#ifdef A // why\n#endif // done\n", "t", &Defines::new()).is_ok());
}

// ----- includes ----------------------------------------------------------

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-drill-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).expect("temp dir");
    dir
}

#[test]
fn include_splices_files_relative_to_the_including_one() {
    let dir = temp_dir("include");
    std::fs::write(
        dir.join("sub/common.pkt"),
        "+0 close(7) = 0\n#include \"leaf.pkt\"\n",
    )
    .expect("write");
    std::fs::write(dir.join("sub/leaf.pkt"), "\n+0 close(8) = 0\n").expect("write");
    std::fs::write(
        dir.join("main.pkt"),
        "0 close(3) = 0\n#include \"sub/common.pkt\"\n+0 close(9) = 0\n",
    )
    .expect("write");
    let s = parse_file(dir.join("main.pkt"), &Defines::standard()).expect("parses");
    assert_eq!(closed_fds(&s), vec![3, 7, 8, 9]);
    assert_eq!(s.sources.len(), 3);
    assert_eq!((s.events[1].source, s.events[1].line), (1, 1));
    assert_eq!((s.events[2].source, s.events[2].line), (2, 2));
    assert!(s.sources[2].ends_with("leaf.pkt"));
    assert_eq!(s.events[3].source, 0);

    // Errors inside an included file name that file.
    std::fs::write(dir.join("sub/bad.pkt"), "+0 close(3 = 0\n").expect("write");
    let e = parse_str(
        "#include \"sub/bad.pkt\"\n",
        &dir.join("x.pkt").display().to_string(),
        &Defines::new(),
    )
    .expect_err("fails");
    assert!(e.file.ends_with("bad.pkt"), "{e}");
    assert_eq!(e.line, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_depth_is_bounded_and_missing_files_reported() {
    let dir = temp_dir("depth");
    std::fs::write(dir.join("self.pkt"), "#include \"self.pkt\"\n").expect("write");
    let e = parse_file(dir.join("self.pkt"), &Defines::new()).expect_err("too deep");
    assert_eq!(
        e.kind,
        ParseErrorKind::IncludeTooDeep(synack_drill::MAX_INCLUDE_DEPTH)
    );
    let e = parse_str(
        "\n#include \"missing.pkt\"\n",
        &dir.join("m.pkt").display().to_string(),
        &Defines::new(),
    )
    .expect_err("missing");
    assert!(matches!(e.kind, ParseErrorKind::Io(_)));
    assert_eq!((e.line, e.column), (2, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parse_file_reports_unreadable_files() {
    let e = parse_file("/nonexistent/synack/x.pkt", &Defines::new()).expect_err("missing");
    assert!(matches!(e.kind, ParseErrorKind::Io(_)));
    assert_eq!(e.line, 0);
    assert!(e
        .to_string()
        .starts_with("/nonexistent/synack/x.pkt: cannot read file"));
}

// ----- robustness --------------------------------------------------------

const SAMPLE: &str = "--tolerance_usecs=10000\n\
`init.sh`\n\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n\
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
+.1 < [ect0] S 0:0(0) win 1000 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>\n\
+0 > S. 0:0(0) ack 1 <...>\n\
+0.1~+0.2 > (tos 0x2) P. 1:11(10) ack 1 win 5 <sack 1:2,eol>/udp(1 > 2)\n\
#ifdef STANDARD\n\
+0...0.1 read(3, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n\
#endif\n\
+0 < icmp unreachable frag_needed mtu 1200 [1:1(0)]\n\
+0 %{ assert tcpi_state == 1 }%\n\
* > R 11:11(0) /* c */ // d\n\
`cleanup.sh`\n";

#[test]
fn sample_parses() {
    let s = parse(SAMPLE);
    assert_eq!(s.events.len(), 10);
    assert!(s.init_command.is_some() && s.cleanup_command.is_some());
}

/// Deterministic pseudo-random mutations of a valid script: truncations,
/// deletions, insertions and swaps must give Ok or Err, never a panic.
#[test]
fn mutated_scripts_never_panic() {
    let mut state: u64 = 0x5eed_1234_abcd_0042;
    let mut rand = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let alphabet: Vec<char> = "<>()[]{},.:;=|!~*+-/`%#\"'\n 0123456789x...SFRP.ackwinTS é"
        .chars()
        .collect();
    let base: Vec<char> = SAMPLE.chars().collect();
    for _ in 0..4000 {
        let mut text = base.clone();
        for _ in 0..=rand(4) {
            let at = rand(text.len() + 1);
            match rand(4) {
                0 => text.truncate(at),
                1 if at < text.len() => {
                    text.remove(at);
                }
                2 => text.insert(at, alphabet[rand(alphabet.len())]),
                _ => {
                    let other = rand(text.len() + 1);
                    if at < text.len() && other < text.len() {
                        text.swap(at, other);
                    }
                }
            }
        }
        let text: String = text.into_iter().collect();
        for defines in [Defines::standard(), Defines::new()] {
            if let Err(e) = parse_str(&text, "m.pkt", &defines) {
                // Every error renders and points inside the text.
                let shown = e.to_string();
                assert!(shown.starts_with("m.pkt"), "{shown}");
                assert!(e.line as usize <= text.lines().count() + 1, "{shown}");
            }
        }
    }
}

#[test]
fn odd_inputs_do_not_panic() {
    for text in [
        "",
        "\n",
        "+",
        "*",
        "0",
        "0 <",
        "0 >",
        "0 < S",
        "0 < S 1",
        "0 < S 1:",
        "0 < S 1:1(",
        "0 f(",
        "0 f(1",
        "0 f(1)",
        "0 f(1) =",
        "0 f(1) = 1 E (",
        "`",
        "%{",
        "%",
        "#",
        "#if",
        "\"",
        "/*",
        "--",
        "--x=",
        "0...",
        "0~",
        "+0.1~",
        "1.2.3",
        "1.2.3.4",
        "0 > S 0:0(0) <",
        "0 > S 0:0(0) <mss",
        "0 > S 0:0(0) <TS val",
        "0 > S 0:0(0)/udp(",
        "\u{feff}0 close(3) = 0",
        "0 close(3) = 0\r\n+0 close(4) = 0\r\n",
        "0 > S 0:0(0) ack 1 win",
        "0 <icmp",
        "0 > udp",
        "0 < (tos",
        "0 < [",
        "0 f({a=}) = 0",
        "0 f(\"a\"...) = 0",
    ] {
        let _ = parse_str(text, "o.pkt", &Defines::standard());
    }
    // Windows line endings are whitespace.
    assert!(parse_str(
        "0 close(3) = 0\r\n+0 close(4) = 0\r\n",
        "o",
        &Defines::new()
    )
    .is_ok());
}
