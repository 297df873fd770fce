//! `%{ ... }%` blocks: a tiny expression language over TCP_INFO fields.
//!
//! packetdrill hands these blocks to Python after the script ends, with
//! `tcpi_*` variables captured at the block's time. synack evaluates the
//! common subset itself: lines of `assert EXPR[, message]` where `EXPR` uses
//! integers, `tcpi_*` fields, state and option constants, parentheses,
//! `== != < <= > >=`, `| & + - * //`, `and`, `or`, `not`. Anything else
//! makes the script "not run", naming what is missing.

use synack_proto::{CcPhase, ConnStatus, FastOpenStatus, Instant, State};

/// Why a block could not be evaluated or did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeError {
    /// A construct or field synack cannot evaluate.
    Unsupported(String),
    /// An assertion was false: the assertion text and the field values used.
    Failed {
        /// The assertion as written.
        assertion: String,
        /// `name = value` pairs of the fields it read.
        values: String,
    },
}

/// What a block sees: the socket under test.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    /// A listening socket.
    Listener,
    /// A connection's status (`None` once it is gone: CLOSED), read at `now`.
    Conn {
        /// The status.
        status: Option<Box<ConnStatus>>,
        /// The script's time, which the `tcpi_last_*` ages count to.
        now: Instant,
    },
}

/// A state's number in the block's namespace (shared by the Linux `TCP_*`
/// and FreeBSD `TCPI_*` spellings, so comparisons work in either dialect).
fn state_number(s: State) -> i64 {
    State::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

fn constant(name: &str) -> Option<i64> {
    // `tcpi_options` bits, the same in Linux and FreeBSD.
    let option = match name {
        "TCPI_OPT_TIMESTAMPS" => Some(1),
        "TCPI_OPT_SACK" => Some(2),
        "TCPI_OPT_WSCALE" => Some(4),
        "TCPI_OPT_ECN" => Some(8),
        // Linux: data on the SYN was acknowledged (Fast Open).
        "TCPI_OPT_SYN_DATA" => Some(32),
        // Linux's `tcpi_ca_state` values (`enum tcp_ca_state`).
        "TCP_CA_Open" => Some(0),
        "TCP_CA_Disorder" => Some(1),
        "TCP_CA_CWR" => Some(2),
        "TCP_CA_Recovery" => Some(3),
        "TCP_CA_Loss" => Some(4),
        _ => None,
    };
    if option.is_some() {
        return option;
    }
    let bare = name
        .strip_prefix("TCPI_")
        .or_else(|| name.strip_prefix("TCP_"))?;
    let state = match bare {
        "CLOSED" | "CLOSE" => State::Closed,
        "LISTEN" => State::Listen,
        "SYN_SENT" => State::SynSent,
        "SYN_RECEIVED" | "SYN_RECV" => State::SynReceived,
        "ESTABLISHED" => State::Established,
        "FIN_WAIT_1" | "FIN_WAIT1" => State::FinWait1,
        "FIN_WAIT_2" | "FIN_WAIT2" => State::FinWait2,
        "CLOSE_WAIT" => State::CloseWait,
        "CLOSING" => State::Closing,
        "LAST_ACK" => State::LastAck,
        "TIME_WAIT" => State::TimeWait,
        _ => return None,
    };
    Some(state_number(state))
}

fn field(name: &str, subject: &Subject) -> Result<i64, CodeError> {
    let unsupported = || CodeError::Unsupported(format!("TCP_INFO field {name}"));
    match subject {
        Subject::Listener => match name {
            "tcpi_state" => Ok(state_number(State::Listen)),
            _ => Err(unsupported()),
        },
        Subject::Conn { status: None, .. } => match name {
            "tcpi_state" => Ok(state_number(State::Closed)),
            _ => Err(unsupported()),
        },
        Subject::Conn {
            status: Some(s),
            now,
        } => {
            let v = match name {
                "tcpi_state" => state_number(s.state),
                "tcpi_snd_mss" => i64::from(s.snd_mss),
                "tcpi_advmss" => i64::from(s.adv_mss),
                "tcpi_snd_cwnd" => i64::from(s.cwnd / u32::from(s.snd_mss.max(1))),
                "tcpi_snd_ssthresh" => {
                    if s.ssthresh == u32::MAX {
                        i64::from(i32::MAX)
                    } else {
                        i64::from(s.ssthresh / u32::from(s.snd_mss.max(1)))
                    }
                }
                // Linux's `icsk_ca_state`: TCP_CA_Open 0, TCP_CA_CWR 2 (a reduction
                // without loss: ECN-Echo, a repairing loss probe), TCP_CA_Recovery 3.
                "tcpi_ca_state" => match s.cc_phase {
                    CcPhase::Recovery => 3,
                    CcPhase::Reduced => 2,
                    _ => 0,
                },
                "tcpi_rto" => s.rto.as_micros() as i64,
                "tcpi_rtt" => s.srtt.map_or(0, |d| d.as_micros() as i64),
                "tcpi_rttvar" => s.rttvar.as_micros() as i64,
                "tcpi_total_retrans" => s.retransmits as i64,
                "tcpi_snd_wscale" => i64::from(s.snd_wscale),
                "tcpi_rcv_wscale" => i64::from(s.rcv_wscale),
                // TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_SACK 2, TCPI_OPT_WSCALE 4,
                // TCPI_OPT_ECN 8 (as Linux and FreeBSD).
                "tcpi_options" => {
                    i64::from(s.timestamps)
                        | i64::from(s.sack) << 1
                        | i64::from(s.window_scaling) << 2
                        | i64::from(s.ecn) << 3
                        | i64::from(s.fast_open.syn_data_acked()) << 5
                }
                // Why the client's Fast Open failed (Linux 5.5's
                // `tcpi_fastopen_client_fail`: 1 no cookie, 2 data not
                // acknowledged, 3 SYN retransmitted).
                "tcpi_fastopen_client_fail" => match s.fast_open {
                    FastOpenStatus::NotUsed(m) => i64::from(m.linux_client_fail()),
                    _ => 0,
                },
                "tcpi_unacked" => i64::from(s.bytes_in_flight / u32::from(s.snd_mss.max(1))),
                "tcpi_bytes_acked" => s.bytes_acked as i64,
                "tcpi_bytes_received" => s.bytes_received as i64,
                "tcpi_segs_out" => s.segs_out as i64,
                "tcpi_segs_in" => s.segs_in as i64,
                // Linux's `tp->delivered`: segments acknowledged or SACKed,
                // the SYN (with a Fast Open SYN's data) counting one.
                "tcpi_delivered" => s.delivered as i64,
                // Linux's `sacked_out`: segments SACKed above snd.una, counted
                // in MSS-sized segments as synack's scoreboard holds octets.
                "tcpi_sacked" => i64::from(s.sacked.div_ceil(u32::from(s.snd_mss.max(1)))),
                // Linux's `lost_out` and `retrans_out`: segments marked lost,
                // and retransmitted, that no SACK has covered since.
                // Linux's `now - icsk_ack.lrcvtime` in milliseconds: since the
                // last in-order data, or the handshake before any.
                "tcpi_last_data_recv" => s
                    .last_data_received
                    .map_or(0, |t| now.saturating_since(t).as_millis() as i64),
                "tcpi_lost" => i64::from(s.lost),
                "tcpi_retrans" => i64::from(s.retrans_out),
                // Linux's `icsk_probes_out`: zero-window and keepalive probes
                // sent without an answer.
                "tcpi_probes" => i64::from(s.window_probes) + i64::from(s.keepalive_probes),
                // Linux's `icsk_backoff`: RTO doublings since the last ACK of new data.
                "tcpi_backoff" => i64::from(s.rto_backoff),
                // Linux's `tp->reordering`: the duplicate ACKs that declare a
                // loss. synack's DupThresh is fixed at 3 (RFC 6675 2), where
                // Linux starts (`tcp_reordering`) before it adapts to reordering.
                "tcpi_reordering" => 3,
                _ => return Err(unsupported()),
            };
            Ok(v)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Int(i64),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
}

fn lex(text: &str) -> Result<Vec<Tok>, CodeError> {
    const OPS: [&str; 13] = [
        "==", "!=", "<=", ">=", "//", "<", ">", "|", "&", "+", "-", "*", "%",
    ];
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    'outer: while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' {
            out.push(Tok::LParen);
            i += 1;
            continue;
        }
        if c == ')' {
            out.push(Tok::RParen);
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i] as char).is_ascii_alphanumeric() {
                i += 1;
            }
            let s = &text[start..i];
            let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                i64::from_str_radix(h, 16)
            } else {
                s.parse()
            }
            .map_err(|_| CodeError::Unsupported(format!("number {s}")))?;
            out.push(Tok::Int(v));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(text[start..i].to_string()));
            continue;
        }
        for op in OPS {
            if text[i..].starts_with(op) {
                out.push(Tok::Op(op));
                i += op.len();
                continue 'outer;
            }
        }
        return Err(CodeError::Unsupported(format!(
            "python syntax {:?}",
            &text[i..]
        )));
    }
    Ok(out)
}

struct Eval<'a> {
    toks: Vec<Tok>,
    pos: usize,
    subject: &'a Subject,
    used: Vec<(String, i64)>,
}

impl Eval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_name(&self, n: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(x)) if x == n)
    }

    fn or(&mut self) -> Result<i64, CodeError> {
        let mut v = self.and()?;
        while self.is_name("or") {
            self.pos += 1;
            let r = self.and()?;
            v = i64::from(v != 0 || r != 0);
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<i64, CodeError> {
        let mut v = self.not()?;
        while self.is_name("and") {
            self.pos += 1;
            let r = self.not()?;
            v = i64::from(v != 0 && r != 0);
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<i64, CodeError> {
        if self.is_name("not") {
            self.pos += 1;
            return Ok(i64::from(self.not()? == 0));
        }
        self.cmp()
    }

    /// A comparison, chained as Python chains them: `a <= b <= c` is
    /// `a <= b and b <= c`.
    fn cmp(&mut self) -> Result<i64, CodeError> {
        let mut l = self.bin(0)?;
        let mut all = None;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            let f: fn(i64, i64) -> bool = match op {
                "==" => |a, b| a == b,
                "!=" => |a, b| a != b,
                "<" => |a, b| a < b,
                "<=" => |a, b| a <= b,
                ">" => |a, b| a > b,
                ">=" => |a, b| a >= b,
                _ => break,
            };
            self.pos += 1;
            let r = self.bin(0)?;
            all = Some(all.unwrap_or(true) && f(l, r));
            l = r;
        }
        Ok(all.map_or(l, i64::from))
    }

    /// Binary operators by precedence: `|` < `&` < `+ -` < `* // %`.
    fn bin(&mut self, level: usize) -> Result<i64, CodeError> {
        const LEVELS: [&[&str]; 4] = [&["|"], &["&"], &["+", "-"], &["*", "//", "%"]];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut v = self.bin(level + 1)?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if !LEVELS[level].contains(&op) {
                break;
            }
            self.pos += 1;
            let r = self.bin(level + 1)?;
            v = match op {
                "|" => v | r,
                "&" => v & r,
                "+" => v.wrapping_add(r),
                "-" => v.wrapping_sub(r),
                "*" => v.wrapping_mul(r),
                "//" | "%" if r == 0 => {
                    return Err(CodeError::Unsupported("division by zero".into()))
                }
                "//" => v.div_euclid(r),
                _ => v.rem_euclid(r),
            };
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<i64, CodeError> {
        match self.peek().cloned() {
            Some(Tok::Op("-")) => {
                self.pos += 1;
                Ok(self.unary()?.wrapping_neg())
            }
            Some(Tok::Int(v)) => {
                self.pos += 1;
                Ok(v)
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let v = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(CodeError::Unsupported("unbalanced parentheses".into()));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                if n == "True" {
                    return Ok(1);
                }
                if n == "False" {
                    return Ok(0);
                }
                if let Some(v) = constant(&n) {
                    return Ok(v);
                }
                if n.starts_with("tcpi_") {
                    let v = field(&n, self.subject)?;
                    self.used.push((n, v));
                    return Ok(v);
                }
                Err(CodeError::Unsupported(format!("python name {n}")))
            }
            other => Err(CodeError::Unsupported(format!(
                "python expression near {other:?}"
            ))),
        }
    }
}

/// Splits `assert EXPR, message` at the first top-level comma.
fn strip_message(expr: &str) -> &str {
    let mut depth = 0i32;
    for (i, c) in expr.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return &expr[..i],
            _ => {}
        }
    }
    expr
}

/// Evaluates a `%{ }%` block against the socket under test.
pub(crate) fn evaluate(code: &str, subject: &Subject) -> Result<(), CodeError> {
    // Python statements end at a newline or a `;`; a `\` ends none.
    let code = code.replace("\\\n", " ");
    for raw in code
        .lines()
        .flat_map(|l| l.split('#').next().unwrap_or("").split(';'))
    {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some(rest) = line.strip_prefix("assert") else {
            return Err(CodeError::Unsupported(format!("python statement `{line}`")));
        };
        let expr = strip_message(rest).trim();
        let mut ev = Eval {
            toks: lex(expr)?,
            pos: 0,
            subject,
            used: Vec::new(),
        };
        let v = ev.or()?;
        if ev.pos != ev.toks.len() {
            return Err(CodeError::Unsupported(format!(
                "python expression `{expr}`"
            )));
        }
        if v == 0 {
            let values = ev
                .used
                .iter()
                .map(|(n, v)| format!("{n} = {}", describe(n, *v)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CodeError::Failed {
                assertion: expr.to_string(),
                values,
            });
        }
    }
    Ok(())
}

fn describe(name: &str, v: i64) -> String {
    if name == "tcpi_state" {
        if let Some(s) = usize::try_from(v).ok().and_then(|i| State::ALL.get(i)) {
            return s.name().to_string();
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_state() {
        assert_eq!(
            evaluate("assert tcpi_state == TCPI_LISTEN", &Subject::Listener),
            Ok(())
        );
        assert!(matches!(
            evaluate("assert tcpi_state == TCP_ESTABLISHED", &Subject::Listener),
            Err(CodeError::Failed { .. })
        ));
    }

    #[test]
    fn every_statement_after_a_semicolon_is_checked() {
        let s = Subject::Listener;
        assert_eq!(evaluate("assert 1 == 1, 'a'; assert 2 == 2", &s), Ok(()));
        assert!(matches!(
            evaluate("assert 1 == 1, 'a'; assert 2 == 3", &s),
            Err(CodeError::Failed { assertion, .. }) if assertion == "2 == 3"
        ));
    }

    #[test]
    fn comparisons_chain_as_in_python() {
        let s = Subject::Listener;
        assert_eq!(evaluate("assert 1 <= 2 <= 3", &s), Ok(()));
        assert!(matches!(
            evaluate("assert 1 <= 4 <= 3", &s),
            Err(CodeError::Failed { .. })
        ));
        assert!(matches!(
            evaluate("assert 3 <= 2 <= 3", &s),
            Err(CodeError::Failed { .. })
        ));
    }

    #[test]
    fn arithmetic_and_logic() {
        let s = Subject::Listener;
        assert_eq!(evaluate("assert (1 | 2) == 3 and 7 // 2 == 3", &s), Ok(()));
        assert_eq!(evaluate("assert not 0, 'msg'", &s), Ok(()));
        assert_eq!(
            evaluate("assert 1 <= 2 <= 3 and not 1 <= 3 <= 2", &s),
            Ok(())
        );
        assert!(matches!(
            evaluate("x = 1", &s),
            Err(CodeError::Unsupported(_))
        ));
        assert!(matches!(
            evaluate("assert tcpi_options == 0", &s),
            Err(CodeError::Unsupported(_))
        ));
        assert_eq!(
            evaluate(
                "assert (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE | TCPI_OPT_ECN) == 15",
                &s
            ),
            Ok(())
        );
    }

    #[test]
    fn linux_congestion_state_names() {
        let s = Subject::Listener;
        assert_eq!(
            evaluate(
                "assert TCP_CA_Open == 0 and TCP_CA_CWR == 2 and TCP_CA_Recovery == 3 and TCP_CA_Loss == 4",
                &s
            ),
            Ok(())
        );
    }
}
