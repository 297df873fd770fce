//! ECN (RFC 3168) against the kernel's.

use super::*;

// ----- ECN (RFC 3168) against the kernel's --------------------------------------

/// One packet through the device: direction, TCP flags, IP ECN field, payload length.
type Seen = (synack::Direction, TcpFlags, Ecn, usize);

fn recording(log: &Arc<Mutex<Vec<Seen>>>) -> synack::PacketHook {
    let log = Arc::clone(log);
    Box::new(move |_, dir, bytes| {
        if let Ok((ip, tcp)) = parse_packet(bytes, ChecksumMode::Ignore) {
            if let Ok(mut l) = log.lock() {
                l.push((dir, tcp.flags, ip.ecn(), tcp.payload.len()));
            }
        }
    })
}

fn sysctl(lab: &Lab, setting: &str) {
    let out = lab.ns.run("sysctl", &["-w", setting]).expect("sysctl");
    assert!(out.status.success(), "sysctl -w {setting} failed");
}

/// RFC 3168 6.1: `asker` sent the ECN-setup SYN (ECE and CWR), the other
/// side answered with ECE alone; both sent their data ECT(0) and everything
/// else not-ECT.
fn assert_ecn_used(seen: &[Seen], asker: synack::Direction) {
    use synack::Direction::{In, Out};
    let answerer = if asker == In { Out } else { In };
    let first = |dir, f: &dyn Fn(TcpFlags) -> bool| {
        seen.iter()
            .find(|s| s.0 == dir && f(s.1))
            .unwrap_or_else(|| panic!("no such packet {dir:?} in {seen:?}"))
            .1
    };
    let syn = first(asker, &|f| f.syn() && !f.ack());
    assert!(syn.ece() && syn.cwr(), "SYN {syn}");
    let syn_ack = first(answerer, &|f| f.syn() && f.ack());
    assert!(syn_ack.ece() && !syn_ack.cwr(), "SYN,ACK {syn_ack}");
    for dir in [In, Out] {
        let data_ect0 = seen
            .iter()
            .filter(|s| s.0 == dir && s.3 > 0 && s.2 == Ecn::Ect0)
            .count();
        assert!(data_ect0 > 0, "no ECT(0) data {dir:?}");
        // SYNs, SYN,ACKs and pure ACKs are not-ECT (6.1.1, 6.1.4); nothing
        // on this link marks CE.
        assert!(
            seen.iter()
                .filter(|s| s.0 == dir && (s.3 == 0 || s.1.syn()))
                .all(|s| s.2 == Ecn::NotEct),
            "ECT on a control packet {dir:?}"
        );
    }
}

#[test]
fn kernel_ecn_client_to_synack_server() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook = recording(&log);
    let Some(lab) = lab_with(|cfg| cfg.on_packet = Some(hook)) else {
        return;
    };
    // Linux asks for ECN on its SYNs with tcp_ecn=1; synack accepts by default.
    sysctl(&lab, "net.ipv4.tcp_ecn=1");
    echo_server(&lab.rt, 7);
    assert_eq!(
        lab.py(PY_ECHO_CLIENT, &["10.77.0.2", "7", "200000"], 30),
        "ok"
    );
    let seen = log.lock().expect("log").clone();
    assert_ecn_used(&seen, synack::Direction::In);
}

#[test]
fn synack_ecn_client_to_kernel_server() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook = recording(&log);
    let Some(mut lab) = lab_with(|cfg| cfg.on_packet = Some(hook)) else {
        return;
    };
    // tcp_ecn=2 (Linux's default): the kernel answers an ECN-setup SYN.
    sysctl(&lab, "net.ipv4.tcp_ecn=2");
    lab.py_bg(PY_ECHO_SERVER, &["10.77.0.1", "9001"], false);
    lab.wait_listen(9001);
    let opts = ConnectOptions {
        timeout: Some(Duration::from_secs(20)),
        local: None,
        config: Some(ConnConfig {
            ecn: EcnMode::Request,
            ..ConnConfig::default()
        }),
    };
    let c = TcpStream::connect_with(&lab.rt, sa(K, 9001), opts).expect("connect");
    assert!(c.status().expect("status").ecn);
    let data = pattern(200_000, 4);
    (&c).write_all(&data).expect("write");
    let mut back = vec![0u8; data.len()];
    (&c).read_exact(&mut back).expect("read");
    assert_eq!(back, data);
    drop(c);
    // The kernel's side shows in its packets: an ECN-setup SYN,ACK, ECT(0) data.
    let seen = log.lock().expect("log").clone();
    assert_ecn_used(&seen, synack::Direction::Out);
}
