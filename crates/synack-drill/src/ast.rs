//! The typed syntax tree of a packetdrill script.
//!
//! The parser keeps everything the script says, symbolically: syscall
//! constants stay names (`SOL_SOCKET`), because their numeric values depend on
//! the dialect the script was written for, and free-text notes, shell commands
//! and code blocks are kept verbatim. Every statement carries the line (and
//! column) it starts on so the runner can report where a script and the stack
//! disagreed.

/// Index of a source file in [`Script::sources`]; `0` is the script itself,
/// higher numbers are files pulled in by `#include`.
pub type SourceId = usize;

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The name the script was parsed under (usually its path).
    pub name: String,
    /// Names of all source files that contributed events, indexed by
    /// [`SourceId`]; entry `0` is [`Script::name`].
    pub sources: Vec<String>,
    /// `--name[=value]` option lines, in order.
    pub options: Vec<ScriptOption>,
    /// The untimed shell command before the first event, if any.
    pub init_command: Option<UntimedCommand>,
    /// Timed events, in script order.
    pub events: Vec<Event>,
    /// The untimed shell command after the last event, if any.
    pub cleanup_command: Option<UntimedCommand>,
}

impl Script {
    /// The value of the last option called `name` (without the leading
    /// `--`). `Some(None)` means the option is present without a value.
    pub fn option(&self, name: &str) -> Option<Option<&str>> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name)
            .map(|o| o.value.as_deref())
    }

    /// `--tolerance_usecs=N`, if present and numeric.
    pub fn tolerance_usecs(&self) -> Option<u64> {
        self.option("tolerance_usecs")
            .flatten()
            .and_then(|v| v.parse().ok())
    }

    /// `--ip_version=...`, if present.
    pub fn ip_version(&self) -> Option<&str> {
        self.option("ip_version").flatten()
    }
}

/// One `--name[=value]` option line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOption {
    /// Line of the option in its source.
    pub line: u32,
    /// Option name without the leading `--`.
    pub name: String,
    /// Text after `=`, verbatim, if any.
    pub value: Option<String>,
}

/// A shell command without a timestamp (first or last statement of a script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntimedCommand {
    /// Source file the command comes from.
    pub source: SourceId,
    /// Line of the opening backtick.
    pub line: u32,
    /// Text between the backticks, verbatim (may span lines).
    pub text: String,
}

/// A timed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Source file the event comes from.
    pub source: SourceId,
    /// Line on which the event's time starts.
    pub line: u32,
    /// Column (1-based, in characters) at which the event's time starts.
    pub column: u32,
    /// Line on which the action after the time starts. Verbatim command
    /// and code text begins on this line, right after the opening delimiter.
    pub action_line: u32,
    /// When the event is to happen.
    pub time: TimeSpec,
    /// What happens.
    pub kind: EventKind,
}

/// When an event happens. All values are microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// `T`: relative to the start of the script.
    Absolute(u64),
    /// `+T`: relative to the completion of the previous event.
    Relative(u64),
    /// `*`: any time (outbound packets only).
    Any,
    /// `T1~T2` or `+T1~+T2`: the event must happen inside the window
    /// (outbound packets only).
    Range {
        /// Whether both ends are relative to the previous event.
        relative: bool,
        /// Earliest time.
        start: u64,
        /// Latest time.
        end: u64,
    },
    /// `S...E` before a syscall: the call starts at `S` and must return at
    /// `E`; both use the same base (`+0.1...0.2` starts 0.1 s after the
    /// previous event and returns 0.2 s after it).
    Blocking {
        /// Whether both ends are relative to the previous event.
        relative: bool,
        /// When the call starts.
        start: u64,
        /// When the call must return.
        end: u64,
    },
}

/// The action of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A packet injected (`<`) or expected (`>`).
    Packet(PacketEvent),
    /// A system call and its expected result.
    Syscall(SyscallEvent),
    /// A backtick shell command, verbatim.
    Command(String),
    /// A `%{ ... }%` code block, verbatim (text between the delimiters).
    Code(String),
}

/// Which way a packet travels, seen from the stack under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the runner builds the packet and injects it into the stack.
    Inbound,
    /// `>`: the stack must emit the packet.
    Outbound,
}

/// A packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketEvent {
    /// A TCP segment.
    Tcp(TcpPacket),
    /// An ICMP message (`< icmp unreachable port_unreachable [0:0(0)]`).
    Icmp(IcmpPacket),
    /// A UDP datagram (`> udp (N)`).
    Udp(UdpPacket),
}

impl PacketEvent {
    /// The packet's direction.
    pub fn direction(&self) -> Direction {
        match self {
            PacketEvent::Tcp(p) => p.direction,
            PacketEvent::Icmp(p) => p.direction,
            PacketEvent::Udp(p) => p.direction,
        }
    }
}

/// IP-level annotations written after the direction: `[ect0]`,
/// `(tos 0x28)`, `(ttl 3)`, `(hlim 3)`, `(class 0x28)`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAttr {
    /// ECN codepoint of the IP header.
    Ecn(EcnCodepoint),
    /// IPv4 type-of-service byte.
    Tos(u32),
    /// IPv6 traffic class.
    TrafficClass(u32),
    /// IPv6 flow label.
    FlowLabel(u32),
    /// IPv4 time to live.
    Ttl(u32),
    /// IPv6 hop limit.
    HopLimit(u32),
}

/// ECN field of the IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcnCodepoint {
    /// `noecn`: not ECN-capable.
    NotEct,
    /// `ect0`.
    Ect0,
    /// `ect1`.
    Ect1,
    /// `ect01`: either ECT codepoint (outbound only).
    Ect01,
    /// `ce`: congestion experienced.
    Ce,
}

/// TCP tunnelled over UDP (`.../udp(1 > 9811)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpEncapsulation {
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
}

/// A TCP packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket {
    /// Inbound or outbound.
    pub direction: Direction,
    /// IP-level annotations.
    pub ip: Vec<IpAttr>,
    /// Explicit `sport>dport`, if written.
    pub ports: Option<(u16, u16)>,
    /// Flags.
    pub flags: TcpFlags,
    /// Sequence range.
    pub seq: SeqSpec,
    /// `ack N` value; the ACK bit itself comes from [`TcpFlags::ack`].
    pub ack: Option<u32>,
    /// `ack N!`: the ack value is absolute (no ISN mapping).
    pub ack_absolute: bool,
    /// `win N`; `None` on an outbound packet means "not checked".
    pub window: Option<u16>,
    /// `urg N`.
    pub urgent: Option<u16>,
    /// TCP options.
    pub options: TcpOptions,
    /// UDP encapsulation suffix, if any.
    pub encapsulation: Option<UdpEncapsulation>,
}

/// The flag string of a TCP packet line, e.g. `S.`, `F.`, `P.`, `.`, `SEW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    /// `F`.
    pub fin: bool,
    /// `S`.
    pub syn: bool,
    /// `R`.
    pub rst: bool,
    /// `P`.
    pub psh: bool,
    /// `.`.
    pub ack: bool,
    /// `U`.
    pub urg: bool,
    /// `E` (ECE).
    pub ece: bool,
    /// `W` (CWR).
    pub cwr: bool,
    /// `A` (AE, accurate ECN).
    pub ae: bool,
    /// A digit 0-7: the accurate-ECN ACE field.
    pub ace: Option<u8>,
}

/// The sequence part of a TCP packet line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqSpec {
    /// `start:end(len)`, with `end == start + len` (checked by the parser).
    Range {
        /// First sequence number.
        start: u32,
        /// Sequence number after the payload.
        end: u32,
        /// Payload length in bytes (SYN and FIN take no space here).
        len: u32,
        /// `!` suffix: the numbers are absolute, not mapped through the ISN.
        absolute: bool,
    },
    /// `...(len)`: any sequence number, payload of `len` bytes.
    Any {
        /// Payload length in bytes.
        len: u32,
    },
}

impl SeqSpec {
    /// The payload length.
    pub fn len(&self) -> u32 {
        match *self {
            SeqSpec::Range { len, .. } | SeqSpec::Any { len } => len,
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `<...>` part of a TCP packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOptions {
    /// No option list written: the packet carries no options.
    None,
    /// `<...>`: do not check options (outbound only).
    Any,
    /// An explicit list, in wire order.
    List(Vec<TcpOption>),
}

/// One TCP option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOption {
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
    /// `mss N`.
    Mss(u16),
    /// `wscale N`.
    WindowScale(u8),
    /// `sackOK`.
    SackPermitted,
    /// `sack L:R L:R ...`.
    Sack(Vec<SackBlock>),
    /// `TS val N ecr N`.
    Timestamp {
        /// `val`; `None` for `val ...` (not checked).
        val: Option<u32>,
        /// `ecr`.
        ecr: u32,
        /// `ecr N!`: absolute, not mapped.
        ecr_absolute: bool,
    },
    /// `FO [cookie]` (`experimental` for `FOEXP`).
    FastOpen {
        /// Whether the experimental option kind is used.
        experimental: bool,
        /// The cookie as written (hex digits), if any.
        cookie: Option<String>,
    },
    /// `md5 X`: TCP-MD5 signature; `X` is kept as written (`valid`, ...).
    Md5(String),
    /// `ECN e0b N [ceb N [e1b N]]` (accurate ECN byte counters).
    AccEcn {
        /// Counters in the order written, each as (name, value).
        counters: Vec<(String, u32)>,
    },
}

/// One SACK block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackBlock {
    /// Left edge.
    pub left: u32,
    /// Right edge.
    pub right: u32,
}

/// An ICMP packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpPacket {
    /// Inbound or outbound.
    pub direction: Direction,
    /// IP-level annotations.
    pub ip: Vec<IpAttr>,
    /// Message type name (`unreachable`, `time_exceeded`, ...).
    pub icmp_type: String,
    /// Code name (`port_unreachable`, `frag_needed`, ...), if written.
    pub code: Option<String>,
    /// `mtu N`, if written.
    pub mtu: Option<u32>,
    /// The TCP sequence range of the quoted segment, if written.
    pub echoed: Option<SeqSpec>,
    /// UDP encapsulation suffix, if any.
    pub encapsulation: Option<UdpEncapsulation>,
}

/// A UDP packet line (`> udp (N)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket {
    /// Inbound or outbound.
    pub direction: Direction,
    /// IP-level annotations.
    pub ip: Vec<IpAttr>,
    /// Explicit `sport>dport`, if written.
    pub ports: Option<(u16, u16)>,
    /// Payload length.
    pub len: u32,
}

/// A syscall line: `name(args) = result [ERRNO] [(note)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallEvent {
    /// Syscall name (`socket`, `setsockopt`, ...).
    pub name: String,
    /// Arguments.
    pub args: Vec<Expr>,
    /// Expected result.
    pub result: SyscallResult,
}

/// The expected outcome of a syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallResult {
    /// Return value (for `socket`/`accept`, the script's name for the fd).
    pub value: Expr,
    /// Expected errno name, e.g. `EAGAIN`.
    pub errno: Option<String>,
    /// Parenthesised free text after the result, verbatim and trimmed.
    pub note: Option<String>,
}

/// A syscall argument or result expression. Names stay symbolic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `...`: filled in by the runner.
    Ellipsis,
    /// A decimal or hexadecimal integer.
    Int(i64),
    /// A symbolic name, e.g. `SOL_SOCKET`, `O_NONBLOCK`, `ECONNRESET`.
    Symbol(String),
    /// A string literal (content without quotes, escapes kept as written).
    Str(String),
    /// `"string"...`: a string prefix, the rest of the buffer unchecked.
    StrPrefix(String),
    /// `a | b | c`.
    BitOr(Vec<Expr>),
    /// `[a, b]`: pointer to a value or array.
    Array(Vec<Expr>),
    /// `{a, b}`: a struct literal.
    Struct(Vec<Expr>),
    /// `lhs = rhs` inside a struct, e.g. `l_onoff=1` or `msg_iov(1)=[...]`.
    Field {
        /// The field name, possibly a call form like `msg_iov(1)`.
        lhs: Box<Expr>,
        /// The value.
        rhs: Box<Expr>,
    },
    /// `name(args)`, e.g. `htons(8080)`, `inet_addr("192.0.2.1")`.
    Call {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
}
