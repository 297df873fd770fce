//! Stack and connection settings. Defaults follow RFC 9293 and its companions;
//! where an RFC leaves a choice, Linux's default is taken and named.

use crate::time::Duration;

/// Keepalive settings (RFC 1122 4.2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (RFC 1122: at least 2 hours by default).
    pub idle: Duration,
    /// Time between unanswered probes (Linux: 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (Linux: 9).
    pub count: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(2 * 60 * 60),
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

/// When a listener answers with SYN cookies (RFC 4987 3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SynCookies {
    /// Never: a full SYN queue drops new SYNs.
    Off,
    /// When the SYN queue is full (Linux `tcp_syncookies=1`).
    #[default]
    WhenFull,
    /// For every SYN (Linux `tcp_syncookies=2`).
    Always,
}

/// Explicit Congestion Notification (RFC 3168): whether a connection asks
/// for it and whether it agrees when the peer asks. The values follow
/// FreeBSD's `net.inet.tcp.ecn.enable` and Linux's `tcp_ecn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcnMode {
    /// Never: SYNs and SYN,ACKs carry neither ECE nor CWR (`0`).
    Off,
    /// Answer an ECN-setup SYN with an ECN-setup SYN,ACK, but send plain SYNs
    /// (`2`, the default of FreeBSD and Linux).
    #[default]
    Accept,
    /// Also ask on active opens with an ECN-setup SYN (`1`).
    Request,
}

/// The congestion control algorithm of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CongestionAlgorithm {
    /// NewReno (RFC 5681, RFC 6582): slow start, congestion avoidance adding
    /// about one segment per round trip, the window halved on loss or
    /// ECN-Echo. FreeBSD's default.
    NewReno,
    /// CUBIC (RFC 9438): the window follows a cubic function of the time
    /// since the last reduction, cut by 0.7 on loss, never below what Reno
    /// would reach; slow start left by HyStart++ (RFC 9406). Linux's default,
    /// and synack's.
    #[default]
    Cubic,
}

/// Per-connection settings. Each can be changed on a live connection where it
/// makes sense (Nagle, keepalive, user timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnConfig {
    /// Send buffer size in bytes.
    pub send_buffer: usize,
    /// Receive buffer size in bytes (bounds the advertised window).
    pub recv_buffer: usize,
    /// Nagle's algorithm (RFC 9293 3.7.4); `false` is TCP_NODELAY.
    pub nagle: bool,
    /// Hold back a segment shorter than the MSS at the end of the queued
    /// data, even with nothing in flight, until more data fills it, the FIN
    /// follows or the cork is taken out (Linux's TCP_CORK; the application
    /// builds a reply from several writes). Off by default.
    pub cork: bool,
    /// Keepalive, off by default (RFC 1122 4.2.3.6).
    pub keepalive: Option<Keepalive>,
    /// Abort when data stays unacknowledged this long (RFC 9293 3.8.4, TCP_USER_TIMEOUT).
    pub user_timeout: Option<Duration>,
    /// Delayed ACK timeout (RFC 1122: at most 500 ms; Linux's minimum 40 ms). Values above
    /// 200 ms are treated as 200 ms; `None` acknowledges every segment at once.
    pub delayed_ack: Option<Duration>,
    /// Count data segments, not bytes, for the "every second segment" rule of
    /// delayed ACKs: the second data segment since the last ACK is acknowledged at
    /// once whatever its size (FreeBSD's `DELAY_ACK`; RFC 1122 4.2.3.2 allows
    /// acknowledging more often). Off by default: an ACK for at least every second
    /// full-sized segment's worth of data (RFC 5681 4.2, as Linux).
    pub delayed_ack_by_segments: bool,
    /// Quick-ACK mode: acknowledge the first data segments at once instead of
    /// delaying, so a peer in slow start is not held back (Linux `tcp_incr_quickack`,
    /// `TCP_MAX_QUICKACKS`: 16). Entered when data first arrives and again when data
    /// arrives after the receiver was idle longer than the RTO; each ACK sent uses one
    /// of min(window / (2 * MSS), this) quick ACKs. RFC 1122 4.2.3.2 allows ACKing
    /// at once. `0` always delays.
    pub quick_ack_segments: u32,
    /// A FIN arriving in ESTABLISHED is acknowledged after the delayed-ACK timeout
    /// (unless the application's reply or close carries the ACK first), as Linux
    /// (`tcp_fin` enters interactive mode). `false` ACKs it at once (FreeBSD).
    pub delayed_fin_ack: bool,
    /// Initial retransmission timeout (RFC 6298 2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO (Linux: 200 ms; RFC 6298 says 1 s).
    pub min_rto: Duration,
    /// Upper bound of the RTO (Linux: 120 s; RFC 6298 allows >= 60 s).
    pub max_rto: Duration,
    /// Added to every RTO computed after the initial one (after a backoff or an RTT
    /// sample), before `max_rto` applies: FreeBSD's `net.inet.tcp.rexmit_slop`
    /// (200 ms there), so a lost SYN is sent again at 1.0 s and 3.2 s instead of
    /// 1 s and 3 s. Zero by default, as RFC 6298 (and Linux) compute the RTO.
    pub rto_slop: Duration,
    /// `min_rto` bounds RTO's variance term instead of the RTO itself: RTO =
    /// SRTT + max(4 * RTTVAR, `min_rto`), as Linux computes it (its
    /// `rttvar_us` never falls below `tcp_rto_min`), so the timer runs at
    /// least `min_rto` past the round trip. `false` is RFC 6298 2.4 (and
    /// FreeBSD): max(SRTT + 4 * RTTVAR, `min_rto`), which on a steady path of
    /// a round trip above `min_rto` fires barely after the round trip, before
    /// a fast retransmission's ACK can return. On by default.
    pub rto_min_on_variance: bool,
    /// SYN retransmissions before connect fails (Linux `tcp_syn_retries`: 6).
    pub syn_retries: u32,
    /// How long the connection may stay in SYN_SENT or SYN_RCVD before it fails
    /// with `TimedOut` (a half-open entry of a listener is dropped silently),
    /// counted from the active OPEN or the SYN's arrival; whichever of this and the
    /// retransmission limit comes first ends the attempt. FreeBSD's TCP_KEEPINIT
    /// (`net.inet.tcp.keepinit`, 75 s there). `None` by default: the SYN and
    /// SYN,ACK retries alone decide, as Linux.
    pub establish_timeout: Option<Duration>,
    /// From the third SYN retransmission on, send the SYN with the MSS option only
    /// (no window scaling, timestamps or SACK): FreeBSD's
    /// `net.inet.tcp.rexmit_drop_options`, a workaround for middleboxes that drop
    /// SYNs carrying options they do not know. A SYN,ACK that answers an earlier
    /// SYN with the options still enables them, as RFC 7323 and RFC 2018 say
    /// (FreeBSD ignores them then). Off by default (Linux always offers the
    /// configured options).
    pub syn_rexmit_drop_options: bool,
    /// SYN,ACK retransmissions before a half-open entry is dropped (Linux `tcp_synack_retries`: 5).
    pub synack_retries: u32,
    /// Data/FIN retransmissions before the connection fails (Linux `tcp_retries2`: 15).
    pub data_retries: u32,
    /// Maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 30 s, so 60 s, as Linux).
    pub msl: Duration,
    /// How long an orphaned connection may stay in FIN_WAIT_2 (Linux `tcp_fin_timeout`: 60 s).
    pub fin_wait_2_timeout: Duration,
    /// MSS to advertise; `None` derives it from the MTU.
    pub mss: Option<u16>,
    /// At connection setup, round the receive buffer up to a multiple of the send
    /// MSS (FreeBSD's `tcp_mss`: 65536 becomes 65700 for MSS 1460, 66240 for 1440),
    /// so that the window holds whole segments. Off by default (Linux keeps the
    /// configured size).
    pub round_recv_buffer_to_mss: bool,
    /// Accept segments up to the free receive buffer space even beyond the right
    /// edge last advertised (FreeBSD's `rcv_wnd = max(sbspace, rcv_adv - rcv_nxt)`:
    /// without window scaling a 65700-byte buffer advertises 65535 but takes
    /// 65700). RFC 9293 3.10.7.4 tests against RCV.WND; taking the buffer space as
    /// RCV.WND only accepts more of what fits. Off by default: the advertised
    /// window is the limit, as Linux.
    pub accept_up_to_buffer_space: bool,
    /// Offer window scaling (RFC 7323).
    pub window_scaling: bool,
    /// Offer timestamps (RFC 7323), on by default as in Linux (`tcp_timestamps=1`).
    /// When both SYNs carry them, every segment does: TSecr times the round trip
    /// (also of retransmissions, 4.1) and PAWS drops old duplicates (5.3). A
    /// connection recreated from a SYN cookie runs without them.
    pub timestamps: bool,
    /// Offer SACK (RFC 2018), on by default as in Linux (`tcp_sack=1`). When both
    /// SYNs carry SACK-permitted, ACKs report the reassembly queue in SACK blocks;
    /// SACK blocks received drive loss recovery when `sack_recovery` is on.
    pub sack: bool,
    /// Conservative SACK-based loss recovery (RFC 6675) on connections that
    /// negotiated SACK: a scoreboard of the SACKed ranges decides which holes
    /// are lost (IsLost), retransmits only those while the octets in flight
    /// (pipe) stay below cwnd, and can repair several losses in one round
    /// trip. On by default (Linux and FreeBSD recover with SACK too); `false`
    /// keeps NewReno (RFC 6582), which connections without SACK always use.
    pub sack_recovery: bool,
    /// Send the MSS option on SYNs (RFC 9293 3.7.1). Off only when the application asks
    /// for a SYN without options (TCP_NOOPT); the peer then assumes 536 (1220 for IPv6).
    pub mss_option: bool,
    /// Report duplicate segments in a first D-SACK block (RFC 2883), when SACK is
    /// in use; on by default as in Linux (`tcp_dsack=1`).
    pub dsack: bool,
    /// ECN (RFC 3168): once both SYNs agreed, new data goes out ECT(0),
    /// congestion marks are echoed with ECE until the peer's CWR, and an ECE
    /// halves the congestion window once per window of data.
    pub ecn: EcnMode,
    /// SYN retransmissions that still ask for ECN; later ones are plain SYNs in
    /// case a middlebox drops ECN-setup SYNs (RFC 3168 6.1.1.1; FreeBSD's
    /// `net.inet.tcp.ecn.maxretries`: 1; Linux falls back at once, 0).
    pub ecn_syn_retries: u32,
    /// Initial congestion window in segments (RFC 6928: 10, as Linux).
    pub initial_cwnd_segments: u32,
    /// The congestion control algorithm (CUBIC by default, as Linux;
    /// FreeBSD's profile runs NewReno).
    pub congestion: CongestionAlgorithm,
    /// Proportional Rate Reduction (RFC 9937) as the send budget of a SACK
    /// recovery: what may be sent follows what was delivered, so the data
    /// in flight falls smoothly to ssthresh instead of RFC 6675's
    /// cwnd - pipe. Linux's behaviour; FreeBSD sends by RFC 6675.
    pub prr: bool,
    /// Congestion window validation (RFC 7661, as Linux's
    /// `tcp_is_cwnd_limited`): CUBIC's window grows on an ACK only if the
    /// flight filled it in the last window of data or, in slow start, while
    /// it is below twice the segments that were out, so an
    /// application-limited flow does not earn a window it never used. On by
    /// default, as Linux; off in the FreeBSD and RFC profiles (RFC 5681 grows
    /// cwnd on every ACK of new data; NewReno never validates).
    pub cwnd_validation: bool,
    /// Tail Loss Probe (RFC 8985 7): when no ACK has come for about two
    /// round-trip times (2*SRTT, plus 200 ms for a lone segment whose ACK may
    /// be delayed, never later than the RTO), send one probe segment (new
    /// data if the peer's window takes it, else the last segment again), so
    /// that the ACK it elicits repairs a lost tail of a flight instead of a
    /// retransmission timeout. Only on connections that use SACK (RFC 8985 4,
    /// Linux `tcp_is_sack`) and have an RTT sample; NewReno stays the loss
    /// recovery. On by default, as Linux (`tcp_early_retrans=3`); FreeBSD has
    /// no TLP.
    pub tail_loss_probe: bool,
    /// RACK (RFC 8985 6): segments are declared lost by time, once a segment
    /// sent after them was delivered and a reordering window (a quarter of
    /// the minimum RTT, widened when D-SACKs show spurious retransmissions)
    /// has passed, in place of RFC 6675's count of SACKed segments. Only on
    /// connections that use SACK (RFC 8985 4); each segment in flight then
    /// has a record of when it was sent. On by default, as Linux
    /// (`tcp_recovery=1`); FreeBSD's profile counts duplicate ACKs.
    pub rack: bool,
    /// Most out-of-order segments held for reassembly.
    pub max_ooo_segments: usize,
    /// RFC 5961 3.2: a RST inside the window but not exactly at RCV.NXT gets
    /// a challenge ACK (the default, as Linux). `false` is RFC 793's rule,
    /// any in-window RST resets (FreeBSD `net.inet.tcp.insecure_rst=1`).
    pub rst_challenge: bool,
    /// RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK
    /// (the default, as Linux). `false` is RFC 793's rule, an in-window SYN
    /// resets the connection (FreeBSD `net.inet.tcp.insecure_syn=1`).
    pub syn_challenge: bool,
    /// While our FIN is sent but unacknowledged (FIN_WAIT_1, CLOSING, LAST_ACK),
    /// every acknowledgment we send carries the FIN again at its sequence number,
    /// as 4.4BSD and FreeBSD do (`tcp_output` rewinds SND.NXT over an unacknowledged
    /// FIN). A retransmission of the FIN is always allowed (RFC 9293 3.8.1); it lets
    /// a peer that lost our FIN learn of it with the next ACK instead of at our RTO,
    /// at the cost of a duplicate FIN when the two FINs only crossed. Off by default:
    /// Linux and RFC 9293 3.10.7.4 send a plain `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    pub fin_on_every_ack: bool,
    /// A segment whose ACK acknowledges data never sent (SEG.ACK > SND.NXT) is
    /// dropped and answered with an ACK in every synchronized state, as RFC
    /// 9293 3.10.7.4 and RFC 5961 5.2 say and FreeBSD does (`dropafterack`).
    /// Off by default, as Linux: in ESTABLISHED it drops such a segment
    /// silently (`tcp_rcv_established` discards what `tcp_ack` refuses), so
    /// two ends that disagree about the sequence space do not trade ACKs; the
    /// other states still answer.
    pub answer_ack_of_unsent: bool,
    /// An ICMP error that RFC 1122 4.2.3.9 calls hard (protocol or port
    /// unreachable; also administratively prohibited, and time exceeded in
    /// transit, as FreeBSD and Linux treat them) aborts a connection that is
    /// still opening (SYN_SENT, SYN_RCVD), as FreeBSD's `net.inet.tcp.icmp_may_rst=1`
    /// (its default; Linux always does). `false` records it as a soft error
    /// instead. In synchronized states every ICMP error is soft (RFC 5927 5.2).
    pub icmp_may_rst: bool,
    /// When an ICMP Packet Too Big (or fragmentation needed) lowers the path
    /// MTU while our SYN or SYN,ACK may still be sent again, the MSS option
    /// of the next one is lowered to fit the path, so the peer's segments fit
    /// too (Linux's `tcp_advertise_mss`; FreeBSD for IPv6). `false` keeps the
    /// option at what the link can receive, as RFC 1191 3.1 and RFC 6691
    /// define it (FreeBSD for IPv4). The segments we send fit the path either way.
    pub syn_mss_follows_path_mtu: bool,
    /// The IPv4 TTL (RFC 791 3.1) or IPv6 hop limit (RFC 8200 3) of every
    /// segment of the connection: IP_TTL / IPV6_UNICAST_HOPS. `None` is the
    /// stack's default, [`DEFAULT_TTL`].
    pub ttl: Option<u8>,
    /// The Differentiated Services codepoint (RFC 2474 3) of every segment of
    /// the connection, in the low six bits (only those count): the upper six
    /// bits of IP_TOS / IPV6_TCLASS. The ECN bits of the byte stay the stack's
    /// (RFC 3168 5; Linux masks them off IP_TOS on TCP sockets too). 0, default
    /// forwarding, by default (RFC 2474 4.1).
    pub dscp: u8,
    /// The most unsent octets the send buffer holds (Linux's
    /// `TCP_NOTSENT_LOWAT`): a send takes no more than brings the octets not
    /// yet sent to this mark, and the connection is writable only while fewer
    /// wait, so an application that writes on readiness keeps little queued
    /// behind the window and decides late what to send. `None` (the
    /// default): the send buffer alone limits.
    pub notsent_lowat: Option<u32>,
    /// RFC 5681 4.1 (Linux's `tcp_slow_start_after_idle`): data sent after
    /// the sender was idle longer than the RTO, with nothing in flight,
    /// starts from at most the restart window, min(IW, cwnd), as Linux's
    /// `tcp_cwnd_restart` does: cwnd halves once per RTO of idle time, not
    /// below that window, and ssthresh keeps three quarters of the old cwnd.
    /// Off by default (Linux's kernel default is on; the test suites' hosts
    /// turn it off).
    pub restart_after_idle: bool,
    /// RFC 9406 4.2's L for CUBIC's slow start: one ACK adds at most 8
    /// segments to cwnd (RFC 9406 4.3's value for a sender that does not
    /// pace, as synack does not). Off: an ACK adds every segment it
    /// delivered, as Linux's `tcp_slow_start` does (its HyStart is not
    /// HyStart++ and has no such limit).
    pub slow_start_ack_limit: bool,
}

/// The TTL / hop limit when [`ConnConfig::ttl`] is `None`: 64, as Linux and
/// FreeBSD (RFC 1700's recommendation; RFC 1122 3.2.1.7 asks for a fixed default
/// large enough for the Internet's diameter).
pub const DEFAULT_TTL: u8 = 64;

/// The largest send or receive buffer a connection may have: TCP's window
/// cannot describe more than 2^30 octets (RFC 7323 2.3: shift at most 14).
pub const MAX_BUFFER: usize = 1 << 30;

impl ConnConfig {
    /// Whether the settings make sense: buffers of at most [`MAX_BUFFER`]
    /// octets and a TTL (hop limit) other than 0, which no router forwards
    /// (RFC 791, RFC 8200). `listen_with`, `connect_with` and `bind` refuse
    /// others with `InvalidArgument`.
    pub fn is_valid(&self) -> bool {
        self.send_buffer <= MAX_BUFFER
            && self.recv_buffer <= MAX_BUFFER
            && self.ttl != Some(0)
            && self.min_rto <= self.max_rto
    }

    /// The same settings with the buffers cut to [`MAX_BUFFER`] and a TTL of 0
    /// replaced by the default, for the places that cannot return an error
    /// (`Stack::new`, `Stack::set_conn_config`).
    pub fn clamped(mut self) -> ConnConfig {
        self.send_buffer = self.send_buffer.min(MAX_BUFFER);
        self.recv_buffer = self.recv_buffer.min(MAX_BUFFER);
        if self.ttl == Some(0) {
            self.ttl = None;
        }
        // RFC 6298 2.4/2.5 bound the RTO below and above; a floor above the
        // ceiling (a FreeBSD rexmit_min sysctl beyond TCPTV_REXMTMAX, say)
        // raises the ceiling to it rather than leave no valid RTO.
        if self.min_rto > self.max_rto {
            self.max_rto = self.min_rto;
        }
        self
    }
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            send_buffer: 64 * 1024,
            recv_buffer: 64 * 1024,
            nagle: true,
            cork: false,
            keepalive: None,
            user_timeout: None,
            delayed_ack: Some(Duration::from_millis(40)),
            delayed_ack_by_segments: false,
            quick_ack_segments: 16,
            delayed_fin_ack: true,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            rto_slop: Duration::ZERO,
            rto_min_on_variance: true,
            syn_retries: 6,
            establish_timeout: None,
            syn_rexmit_drop_options: false,
            synack_retries: 5,
            data_retries: 15,
            msl: Duration::from_secs(30),
            fin_wait_2_timeout: Duration::from_secs(60),
            mss: None,
            round_recv_buffer_to_mss: false,
            accept_up_to_buffer_space: false,
            window_scaling: true,
            timestamps: true,
            sack: true,
            sack_recovery: true,
            mss_option: true,
            dsack: true,
            ecn: EcnMode::Accept,
            ecn_syn_retries: 1,
            initial_cwnd_segments: 10,
            congestion: CongestionAlgorithm::Cubic,
            prr: true,
            cwnd_validation: true,
            tail_loss_probe: true,
            rack: true,
            max_ooo_segments: 64,
            rst_challenge: true,
            syn_challenge: true,
            fin_on_every_ack: false,
            answer_ack_of_unsent: false,
            icmp_may_rst: true,
            syn_mss_follows_path_mtu: true,
            ttl: None,
            dscp: 0,
            notsent_lowat: None,
            restart_after_idle: false,
            slow_start_ack_limit: true,
        }
    }
}

/// Stack-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackConfig {
    /// Defaults for new connections.
    pub conn: ConnConfig,
    /// The link MTU; the advertised MSS is derived from it.
    pub mtu: u16,
    /// SYN cookie policy.
    pub syn_cookies: SynCookies,
    /// Most connections in total (all states, half-open entries included).
    pub max_connections: usize,
    /// Challenge ACKs per second (RFC 5961 7; Linux `tcp_challenge_ack_limit`: 1000).
    pub challenge_ack_limit: u32,
    /// Most events kept until polled; older ones are counted as lost.
    pub max_events: usize,
    /// Record events at all (off: only counters).
    pub trace: bool,
    /// Ephemeral port range (Linux: 32768..=60999).
    pub ephemeral_ports: (u16, u16),
    /// The least IPv4 path MTU an ICMP "fragmentation needed" can bring a
    /// connection down to (Linux's `min_pmtu`: 552). RFC 1191 3 only forbids
    /// going below 68; a higher floor keeps a forged message from shrinking
    /// segments to a few bytes (RFC 5927 7). IPv6 never goes below its
    /// minimum link MTU, 1280 (RFC 8201 4).
    pub min_path_mtu: u16,
    /// Header prediction: an ACK or in-order data segment on an established
    /// connection with nothing unusual about it skips the checks that cannot
    /// fire for it, and its payload's checksum is verified while it is copied
    /// into the receive buffer. Observably the same as the full path (same
    /// segments, states and events); off sends every segment through the
    /// full path, which is what the tests comparing the two need.
    pub fast_path: bool,
    /// TCP Fast Open (RFC 7413), off by default; see also
    /// [`Stack::set_fast_open_config`](crate::Stack::set_fast_open_config).
    pub fast_open: crate::fastopen::FastOpenConfig,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            conn: ConnConfig::default(),
            mtu: 1500,
            syn_cookies: SynCookies::WhenFull,
            max_connections: 1 << 20,
            challenge_ack_limit: 1000,
            max_events: 1 << 16,
            trace: true,
            ephemeral_ports: (32768, 60999),
            min_path_mtu: 552,
            fast_path: true,
            fast_open: crate::fastopen::FastOpenConfig::default(),
        }
    }
}
