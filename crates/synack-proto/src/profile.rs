//! Stack profiles: the behaviour switches where the RFCs leave a choice, set
//! the way an operating system sets them, as data. A profile names a
//! complete set of those switches, so that tests, the conformance runner and
//! applications can ask for "FreeBSD" instead of setting a dozen fields.
//!
//! What each profile sets (every other [`ConnConfig`] field keeps its value):
//!
//! | switch | `Linux` (the defaults) | `FreeBsd` | `Rfc` |
//! |---|---|---|---|
//! | `delayed_ack_by_segments` | off: an ACK for every second full-sized segment's worth (RFC 5681 4.2) | on: every second data segment (`DELAY_ACK`) | off |
//! | `quick_ack_segments` | 16 (`tcp_incr_quickack`) | 0: no quick-ACK mode | 0 |
//! | `delayed_fin_ack` | on (`tcp_fin`'s pingpong mode) | off | off |
//! | `delayed_ack` | 40 ms | 100 ms (`net.inet.tcp.delacktime`) | 40 ms |
//! | `min_rto` | 200 ms | 30 ms (`net.inet.tcp.rexmit_min`) | 1 s (RFC 6298 2.4) |
//! | `max_rto` | 120 s | 64 s (`TCPTV_REXMTMAX`) | 120 s |
//! | `rto_slop` | 0 | 200 ms (`net.inet.tcp.rexmit_slop`) | 0 |
//! | `rto_min_on_variance` | on: RTO = SRTT + max(4 RTTVAR, `min_rto`) (`__tcp_set_rto`) | off: max(SRTT + 4 RTTVAR, `min_rto`) (`TCPT_RANGESET`) | off (RFC 6298 2.4) |
//! | `syn_retries` | 6 (`tcp_syn_retries`) | 12 (`TCP_MAXRXTSHIFT`) | 6 |
//! | `establish_timeout` | none | 75 s (`net.inet.tcp.keepinit`) | none |
//! | `round_recv_buffer_to_mss` | off | on (`tcp_mss`) | off |
//! | `accept_up_to_buffer_space` | off | on (`rcv_wnd = max(sbspace, rcv_adv - rcv_nxt)`) | off |
//! | `fin_on_every_ack` | off | on (`tcp_output` resends an unacknowledged FIN) | off |
//! | `answer_ack_of_unsent` | off in ESTABLISHED (`tcp_rcv_established` drops it silently) | on (`dropafterack`) | on (RFC 9293 3.10.7.4, RFC 5961 5.2) |
//! | `syn_mss_follows_path_mtu` | on (`tcp_advertise_mss`) | IPv6 only (its route MTU); IPv4 keeps the link's | off (RFC 1191 3.1, RFC 6691) |
//! | `cwnd_validation` | on (`tcp_is_cwnd_limited`, RFC 7661) | off | off (RFC 5681: cwnd grows on every ACK of new data) |
//! | `tail_loss_probe` | on (`tcp_early_retrans=3`) | off: FreeBSD has no TLP | on (RFC 8985) |
//! | `rack` | on (`tcp_recovery=1`) | off: loss by DupThresh (RFC 6675) | on (RFC 8985) |
//! | keepalive count ([`Profile::keepalive`]) | 9 (`tcp_keepalive_probes`) | 8 (`TCPTV_KEEPCNT`) | 9 |
//!
//! The one switch that depends on the address family, FreeBSD's SYN MSS, is
//! a parameter (`ipv6`) of [`Profile::apply`] and [`StackConfig::with_profile`].
//! What a packetdrill script or a sysctl changes on top (the MTU, timestamps
//! and SACK, one knob or another) stays the caller's.

use crate::config::{CongestionAlgorithm, ConnConfig, Keepalive, StackConfig};
use crate::time::Duration;

/// A named set of behaviour switches (see the [module](self) table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// Linux's choices, which are synack's defaults: [`ConnConfig::default`].
    Linux,
    /// FreeBSD's defaults, as its `tcp_input.c`, `tcp_output.c`, `tcp_timer.h`
    /// and sysctls have them.
    FreeBsd,
    /// The RFCs' text where synack's defaults follow a Linux habit no RFC
    /// describes: no quick-ACK mode and no delayed ACK of a FIN (RFC 1122
    /// 4.2.3.2 and RFC 5681 4.2 describe delayed ACKs without either), an
    /// RTO of at least 1 s (RFC 6298 2.4), the SYN's MSS option from the
    /// link alone (RFC 1191 3.1, RFC 6691), and an ACK for every ACK of data
    /// never sent (RFC 9293 3.10.7.4). Otherwise as `Linux`.
    Rfc,
}

impl Profile {
    /// Set the profile's switches in `cfg`, for connections over IPv6
    /// (`ipv6`) or IPv4; every other field stays.
    pub fn apply(self, cfg: &mut ConnConfig, ipv6: bool) {
        let linux = ConnConfig::default();
        // Linux's choices first: the defaults, whatever `cfg` held before.
        cfg.delayed_ack_by_segments = linux.delayed_ack_by_segments;
        cfg.quick_ack_segments = linux.quick_ack_segments;
        cfg.delayed_fin_ack = linux.delayed_fin_ack;
        cfg.delayed_ack = linux.delayed_ack;
        cfg.min_rto = linux.min_rto;
        cfg.max_rto = linux.max_rto;
        cfg.rto_slop = linux.rto_slop;
        cfg.rto_min_on_variance = linux.rto_min_on_variance;
        cfg.syn_retries = linux.syn_retries;
        cfg.establish_timeout = linux.establish_timeout;
        cfg.round_recv_buffer_to_mss = linux.round_recv_buffer_to_mss;
        cfg.accept_up_to_buffer_space = linux.accept_up_to_buffer_space;
        cfg.fin_on_every_ack = linux.fin_on_every_ack;
        cfg.answer_ack_of_unsent = linux.answer_ack_of_unsent;
        cfg.syn_mss_follows_path_mtu = linux.syn_mss_follows_path_mtu;
        cfg.tail_loss_probe = linux.tail_loss_probe;
        cfg.rack = linux.rack;
        cfg.congestion = linux.congestion;
        cfg.prr = linux.prr;
        cfg.cwnd_validation = linux.cwnd_validation;
        match self {
            Profile::Linux => {}
            Profile::FreeBsd => {
                // Every second data segment is acknowledged at once, whatever its
                // size (`DELAY_ACK`), and from the first: no quick-ACK mode.
                cfg.delayed_ack_by_segments = true;
                cfg.quick_ack_segments = 0;
                // A FIN is acknowledged at once.
                cfg.delayed_fin_ack = false;
                // `net.inet.tcp.delacktime`.
                cfg.delayed_ack = Some(Duration::from_millis(100));
                // The RTO at least `net.inet.tcp.rexmit_min` (30 ms) and at most
                // TCPTV_REXMTMAX (64 s), with `net.inet.tcp.rexmit_slop` (200 ms) on
                // every RTO after the first; TCP_MAXRXTSHIFT (12) SYN
                // retransmissions; the connection-establishment timer TCP_KEEPINIT
                // (`net.inet.tcp.keepinit`, 75 s).
                cfg.min_rto = Duration::from_millis(30);
                cfg.max_rto = Duration::from_secs(64);
                cfg.rto_slop = Duration::from_millis(200);
                cfg.rto_min_on_variance = false;
                cfg.syn_retries = 12;
                cfg.establish_timeout = Some(Duration::from_secs(75));
                // The receive buffer rounded to whole segments, and what it holds
                // accepted even beyond the 16-bit window field (`SO_RCVBUF` reads
                // 65700 for 65536 and an MSS of 1460).
                cfg.round_recv_buffer_to_mss = true;
                cfg.accept_up_to_buffer_space = true;
                // `tcp_output` sends an unacknowledged FIN again with every ACK.
                cfg.fin_on_every_ack = true;
                // `tcp_input`: an ACK of data never sent goes to `dropafterack`.
                cfg.answer_ack_of_unsent = true;
                // The SYN advertises the route's MTU: an ICMPv6 Packet Too Big
                // lowers it, an IPv4 fragmentation-needed (kept in the host cache)
                // does not.
                cfg.syn_mss_follows_path_mtu = ipv6;
                // No tail loss probe (RFC 8985) in FreeBSD.
                cfg.tail_loss_probe = false;
                // Nor RACK: RFC 6675's DupThresh declares losses.
                cfg.rack = false;
                // `net.inet.tcp.cc.algorithm` is newreno; a SACK recovery sends by
                // RFC 6675's cwnd - pipe, as the FreeBSD scripts were checked against.
                cfg.congestion = CongestionAlgorithm::NewReno;
                cfg.prr = false;
                // FreeBSD's newreno grows cwnd on every ACK, used or not.
                cfg.cwnd_validation = false;
            }
            Profile::Rfc => {
                cfg.quick_ack_segments = 0;
                cfg.delayed_fin_ack = false;
                // RFC 6298 2.4: "if it is less than 1 second, then the RTO SHOULD be
                // rounded up to 1 second".
                cfg.min_rto = Duration::from_secs(1);
                cfg.rto_min_on_variance = false;
                // RFC 1191 3.1, RFC 6691: the MSS option says what this host can
                // receive, from its interface, not the path.
                cfg.syn_mss_follows_path_mtu = false;
                // RFC 9293 3.10.7.4: "If the ACK acks something not yet sent
                // (SEG.ACK > SND.NXT), then send an ACK, drop the segment".
                cfg.answer_ack_of_unsent = true;
                // RFC 5681 3.1 grows cwnd on every ACK of new data; RFC 7661's
                // validation is experimental.
                cfg.cwnd_validation = false;
            }
        }
    }

    /// [`ConnConfig::default`] with the profile's switches.
    pub fn conn_config(self, ipv6: bool) -> ConnConfig {
        let mut cfg = ConnConfig::default();
        self.apply(&mut cfg, ipv6);
        cfg
    }

    /// The keepalive settings the profile's system uses once an application
    /// turns keepalive on (SO_KEEPALIVE): 2 hours idle (RFC 1122 4.2.3.6),
    /// probes every 75 s, and Linux's 9 or FreeBSD's 8 unanswered probes.
    pub fn keepalive(self) -> Keepalive {
        let linux = Keepalive::default();
        match self {
            Profile::Linux | Profile::Rfc => linux,
            Profile::FreeBsd => Keepalive { count: 8, ..linux },
        }
    }
}

impl StackConfig {
    /// [`StackConfig::default`] whose connection settings have `profile`'s
    /// switches, for connections over IPv6 (`ipv6`) or IPv4.
    pub fn with_profile(profile: Profile, ipv6: bool) -> StackConfig {
        StackConfig {
            conn: profile.conn_config(ipv6),
            ..StackConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_is_the_default() {
        for ipv6 in [false, true] {
            assert_eq!(Profile::Linux.conn_config(ipv6), ConnConfig::default());
            assert_eq!(
                StackConfig::with_profile(Profile::Linux, ipv6),
                StackConfig::default()
            );
        }
        assert_eq!(Profile::Linux.keepalive(), Keepalive::default());
    }

    #[test]
    fn a_profile_sets_every_switch_it_owns() {
        // Applying a profile over another gives the profile itself.
        for a in [Profile::Linux, Profile::FreeBsd, Profile::Rfc] {
            for b in [Profile::Linux, Profile::FreeBsd, Profile::Rfc] {
                for ipv6 in [false, true] {
                    let mut cfg = a.conn_config(ipv6);
                    b.apply(&mut cfg, ipv6);
                    assert_eq!(cfg, b.conn_config(ipv6), "{b:?} over {a:?}");
                }
            }
        }
        // Other settings stay.
        let mut cfg = ConnConfig {
            recv_buffer: 1234,
            ..ConnConfig::default()
        };
        Profile::FreeBsd.apply(&mut cfg, false);
        assert_eq!(cfg.recv_buffer, 1234);
    }

    #[test]
    fn freebsd_depends_on_the_family_only_for_the_syn_mss() {
        let v4 = Profile::FreeBsd.conn_config(false);
        let v6 = Profile::FreeBsd.conn_config(true);
        assert!(!v4.syn_mss_follows_path_mtu && v6.syn_mss_follows_path_mtu);
        assert_eq!(
            ConnConfig {
                syn_mss_follows_path_mtu: true,
                ..v4
            },
            v6
        );
        assert_eq!(v4.min_rto, Duration::from_millis(30));
        assert_eq!(v4.establish_timeout, Some(Duration::from_secs(75)));
        assert!(!v4.tail_loss_probe && v4.fin_on_every_ack && v4.answer_ack_of_unsent);
        assert_eq!(
            (v4.congestion, v4.prr),
            (CongestionAlgorithm::NewReno, false)
        );
        assert_eq!(Profile::FreeBsd.keepalive().count, 8);
    }

    #[test]
    fn rfc_follows_the_text() {
        let c = Profile::Rfc.conn_config(true);
        assert_eq!(c.min_rto, Duration::from_secs(1));
        assert_eq!((c.quick_ack_segments, c.delayed_fin_ack), (0, false));
        assert!(!c.syn_mss_follows_path_mtu && c.answer_ack_of_unsent);
        assert!(!c.cwnd_validation);
        assert_eq!(
            ConnConfig {
                quick_ack_segments: 16,
                delayed_fin_ack: true,
                min_rto: Duration::from_millis(200),
                rto_min_on_variance: true,
                syn_mss_follows_path_mtu: true,
                answer_ack_of_unsent: false,
                cwnd_validation: true,
                ..c
            },
            ConnConfig::default()
        );
    }
}
