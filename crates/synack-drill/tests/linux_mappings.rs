//! The Linux corpus's host commands, counters and `TCP_INFO` fields as the
//! runner maps them onto synack: one small script each.

mod support;
use support::accepted;

use synack_drill::{run_script, Mode, Outcome};

fn semantic(text: &str) -> Outcome {
    let script = support::script(text);
    run_script(&script, Mode::Semantic)
}

/// A passive open and 4000 bytes written in four segments, unacknowledged.
const FOUR_OUT: &str = concat!(
    accepted!(),
    "+0 write(4, ..., 4000) = 4000\n",
    "+0 > P. 1:4001(4000) ack 1\n",
);

#[test]
fn nstat_counts_an_out_of_window_icmp_since_the_last_nstat() {
    let icmp = "+0 `nstat > /dev/null`\n\
                +0 < icmp unreachable host_unreachable [9001:10001(1000)]\n\
                +0 `nstat | grep TcpExtOutOfWindowIcmps > /dev/null`\n";
    assert_eq!(semantic(&format!("{FOUR_OUT}{icmp}")), Outcome::Passed);
    // Nothing new since the last nstat: grep finds no line, the command fails.
    let again = format!("{icmp}+0 `nstat | grep TcpExtOutOfWindowIcmps`\n");
    assert!(matches!(
        semantic(&format!("{FOUR_OUT}{again}")),
        Outcome::Failed(d) if d.actual.contains("did not grow")
    ));
    let unknown = "+0 `nstat | grep TcpExtTCPHystartTrainDetect`\n";
    assert!(matches!(
        semantic(&format!("{FOUR_OUT}{unknown}")),
        Outcome::NotRun(r) if r.contains("TcpExtTCPHystartTrainDetect")
    ));
}

#[test]
fn sacked_segments_and_rto_backoff_read_from_the_connection() {
    let sack = "+0.1 < . 1:1(0) ack 1 win 257 <sack 2001:4001,nop,nop>\n\
                +0 %{ assert tcpi_sacked == 2, tcpi_sacked; \\\n\
                      assert tcpi_backoff == 0 }%\n";
    assert_eq!(semantic(&format!("{FOUR_OUT}{sack}")), Outcome::Passed);
    let wrong = "+0.1 < . 1:1(0) ack 1 win 257 <sack 3001:4001,nop,nop>\n\
                 +0 %{ assert tcpi_sacked == 2 }%\n";
    assert!(matches!(
        semantic(&format!("{FOUR_OUT}{wrong}")),
        Outcome::Failed(d) if d.actual == "tcpi_sacked = 1"
    ));
    // A loss probe does not back off; the first RTO doubles the timeout once.
    let rto = "* > P. 3001:4001(1000) ack 1\n+0 %{ assert tcpi_backoff == 0 }%\n\
               * > . 1:1001(1000) ack 1\n+0 %{ assert tcpi_backoff == 1 }%\n";
    assert_eq!(semantic(&format!("{FOUR_OUT}{rto}")), Outcome::Passed);
}

#[test]
fn a_packet_mark_changes_nothing_on_the_wire() {
    let text = FOUR_OUT.replace(
        "+0 write(4",
        "+0 setsockopt(4, SOL_SOCKET, SO_MARK, [666], 4) = 0\n+0 write(4",
    );
    assert_eq!(semantic(&text), Outcome::Passed);
}

#[test]
fn host_settings_synack_has_no_equivalent_of_are_named() {
    let cases = [
        (
            "`echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect`",
            "HyStart++",
        ),
        ("`sysctl -q net.ipv4.tcp_mtu_probing=2`", "RFC 4821"),
        ("`tc qdisc replace dev tun0 root fq`", "pacing"),
        ("`/bin/rm -f /tmp/testfile`", "sendfile"),
    ];
    for (cmd, why) in cases {
        let text = format!("{cmd}\n{FOUR_OUT}");
        assert!(
            matches!(semantic(&text), Outcome::NotRun(ref r) if r.contains(why)),
            "{cmd}"
        );
    }
}

#[test]
fn the_unsent_mark_limits_a_nonblocking_write() {
    let lowat = FOUR_OUT.replace(
        "+0 write(4, ..., 4000) = 4000\n+0 > P. 1:4001(4000) ack 1\n",
        "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n\
         +0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [0], [4]) = 0\n\
         +0 setsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [3000], 4) = 0\n\
         +0 getsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [3000], [4]) = 0\n\
         +0 write(4, ..., 4000) = 3000\n+0 > P. 1:3001(3000) ack 1\n",
    );
    assert_eq!(semantic(&lowat), Outcome::Passed);
    // The sysctl's mark applies to a socket that set none.
    let sysctl = format!(
        "`sysctl -q net.ipv4.tcp_notsent_lowat=2000`\n{}",
        lowat
            .replace("[3000], 4) = 0", "[0], 4) = 0")
            .replace("[3000], [4]", "[0], [4]")
            .replace(
                "= 3000\n+0 > P. 1:3001(3000)",
                "= 2000\n+0 > P. 1:2001(2000)"
            )
    );
    assert_eq!(semantic(&sysctl), Outcome::Passed);
}

#[test]
fn poll_waits_for_the_handshake_and_reports_a_reset() {
    let active = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+0...0.050 poll([{fd=3, events=POLLIN|POLLOUT|POLLERR, revents=POLLOUT}], 1, 1000) = 1
+.05 < S. 0:0(0) ack 1 win 10000 <mss 1000,sackOK,nop,nop,nop,wscale 8>
+0 > . 1:1(0) ack 1
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+.01 < R. 1:1(0) ack 1 win 0
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLERR|POLLHUP, revents=POLLIN|POLLOUT|POLLERR|POLLHUP}], 1, 0) = 1
";
    assert_eq!(semantic(active), Outcome::Passed);
    // Readable data is what poll reports, not what the script hoped for.
    let wrong = active.replace(
        "events=POLLIN, revents=0}], 1, 0) = 0",
        "events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1",
    );
    assert!(matches!(
        semantic(&wrong),
        Outcome::Failed(d) if d.actual == "poll revents POLLOUT"
    ));
}

#[test]
fn path_mtu_discovery_modes_are_kept_and_read_back() {
    let set = |v: &str| {
        FOUR_OUT.replace(
            "+0 write(4",
            &format!(
                "+0 setsockopt(4, SOL_IP, IP_MTU_DISCOVER, [{v}], 4) = 0\n\
                 +0 getsockopt(4, SOL_IP, IP_MTU_DISCOVER, [{v}], [4]) = 0\n+0 write(4"
            ),
        )
    };
    let too_big = "+0 < icmp unreachable frag_needed mtu 600 [1:1001(1000)]\n";
    // DO is synack's own behaviour: DF set, the path MTU followed.
    assert_eq!(semantic(&set("IP_PMTUDISC_DO")), Outcome::Passed);
    assert_eq!(
        semantic(&format!("{}{too_big}", set("IP_PMTUDISC_DO"))),
        Outcome::Passed
    );
    // DONT behaves alike until an ICMP error arrives, which Linux then ignores.
    assert_eq!(semantic(&set("IP_PMTUDISC_DONT")), Outcome::Passed);
    assert!(matches!(
        semantic(&format!("{}{too_big}", set("IP_PMTUDISC_DONT"))),
        Outcome::NotRun(r) if r.contains("IP_MTU_DISCOVER 0")
    ));
    // A mode Linux does not know is EINVAL.
    let bad = FOUR_OUT.replace(
        "+0 write(4",
        "+0 setsockopt(4, SOL_IP, IP_MTU_DISCOVER, [9], 4) = -1 EINVAL (Invalid argument)\n+0 write(4",
    );
    assert_eq!(semantic(&bad), Outcome::Passed);
}

#[test]
fn lost_and_retransmitted_segments_read_from_racks_marks() {
    // RACK's reordering timer marks the three segments below the SACKed
    // 3001:4001 lost and recovery retransmits the first two; a SACK for the
    // second takes it off both counts, and the third goes again.
    let loss = "+0.1 < . 1:1(0) ack 1 win 257 <sack 3001:4001,nop,nop>\n\
                * > . 1:1001(1000) ack 1\n\
                +0 > . 1001:2001(1000) ack 1\n\
                +0 %{ assert tcpi_lost == 3, tcpi_lost; assert tcpi_retrans == 2, tcpi_retrans }%\n\
                +0.01 < . 1:1(0) ack 1 win 257 <sack 1001:2001 3001:4001,nop,nop>\n\
                +0 > . 2001:3001(1000) ack 1\n\
                +0 %{ assert tcpi_lost == 2, tcpi_lost; assert tcpi_retrans == 2, tcpi_retrans }%\n\
                +0.01 < . 1:1(0) ack 4001 win 257\n\
                +0 %{ assert tcpi_lost == 0, tcpi_lost; assert tcpi_retrans == 0, tcpi_retrans }%\n";
    assert_eq!(semantic(&format!("{FOUR_OUT}{loss}")), Outcome::Passed);
}

#[test]
fn epoll_reports_levels_edges_and_one_shots() {
    let base = concat!(
        accepted!(),
        "+0 epoll_create(1) = 5\n",
        "+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, fd=4}) = 0\n",
        "+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n",
        "+0 < P. 1:101(100) ack 1 win 257\n",
        "+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1\n",
    );
    // Edge-triggered: once per arrival, again when more data comes.
    let edge = format!(
        "{base}+0 epoll_wait(5, {{events=0, ptr=0}}, 1, 0) = 0\n\
         +0 < P. 101:201(100) ack 1 win 257\n\
         +0 epoll_wait(5, {{events=EPOLLIN, fd=4}}, 1, 0) = 1\n\
         +0 epoll_wait(5, {{events=0, ptr=0}}, 1, 0) = 0\n"
    );
    assert_eq!(semantic(&edge), Outcome::Passed);
    // Level-triggered: while the data waits; writable once asked for.
    let level = format!(
        "{base}+0 epoll_ctl(5, EPOLL_CTL_MOD, 4, {{events=EPOLLIN|EPOLLOUT, fd=4}}) = 0\n\
         +0 epoll_wait(5, {{events=EPOLLIN|EPOLLOUT, fd=4}}, 1, 0) = 1\n\
         +0 epoll_wait(5, {{events=EPOLLIN|EPOLLOUT, fd=4}}, 1, 0) = 1\n\
         +0 read(4, ..., 1000) = 100\n\
         +0 epoll_wait(5, {{events=EPOLLOUT, fd=4}}, 1, 0) = 1\n"
    );
    assert_eq!(semantic(&level), Outcome::Passed);
    // One-shot: one report until the registration is modified.
    let oneshot = format!(
        "{base}+0 epoll_ctl(5, EPOLL_CTL_MOD, 4, {{events=EPOLLOUT|EPOLLONESHOT, fd=4}}) = 0\n\
         +0 epoll_wait(5, {{events=EPOLLOUT, fd=4}}, 1, 0) = 1\n\
         +0 epoll_wait(5, {{events=0, ptr=0}}, 1, 0) = 0\n\
         +0 epoll_ctl(5, EPOLL_CTL_DEL, 4, NULL) = 0\n\
         +0 epoll_ctl(5, EPOLL_CTL_DEL, 4, NULL) = -1 ENOENT (No such file or directory)\n"
    );
    assert_eq!(semantic(&oneshot), Outcome::Passed);
    // What differs is named.
    let wrong = format!("{base}+0 epoll_wait(5, {{events=0, ptr=0}}, 1, 0) = 1\n");
    assert!(matches!(
        semantic(&wrong),
        Outcome::Failed(d) if d.actual == "epoll_wait(...) = 0"
    ));
}
