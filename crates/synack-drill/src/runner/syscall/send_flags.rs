//! Send flags beyond a plain send: `MSG_EOR` (a record end,
//! [`synack_proto::Stack::send_record`]), `MSG_MORE` (the connection stays
//! corked until a send without it, as Linux's `tcp_push` passes
//! `TCP_NAGLE_CORK` for that call), `MSG_ZEROCOPY` (a copy, as every send
//! is in synack), `MSG_FASTOPEN` (connect with the data on the SYN,
//! [`synack_proto::Stack::connect_fast_open`]), `MSG_DONTWAIT` (this call
//! does not block) and `MSG_NOSIGNAL` (the runner raises no signals).

use crate::ast::Expr;
use crate::runner::expr::fmt_expr;
use crate::runner::socket::SockKind;
use crate::runner::{not_run, Res, Runner};

/// What a send's flags ask of synack.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SendFlags {
    /// `MSG_EOR`: the data ends a record.
    pub(super) eor: bool,
    /// `MSG_MORE`: more data follows; hold a short segment back.
    pub(super) more: bool,
    /// `MSG_FASTOPEN`: on an unconnected socket, connect with the data.
    pub(super) fastopen: bool,
    /// `MSG_DONTWAIT`: this call does not block.
    pub(super) dontwait: bool,
}

/// The flags synack maps, with their Linux values; any other makes the
/// script not run.
const KNOWN: [(&str, i64); 6] = [
    ("MSG_EOR", 0x80),
    ("MSG_MORE", 0x8000),
    ("MSG_ZEROCOPY", 0x400_0000),
    ("MSG_FASTOPEN", 0x2000_0000),
    ("MSG_DONTWAIT", 0x40),
    ("MSG_NOSIGNAL", 0x4000),
];

fn symbols<'a>(e: &'a Expr, out: &mut Vec<&'a str>) -> bool {
    match e {
        Expr::Int(0) => true,
        // A number: the Linux flags it is made of (`0x20000000` is
        // MSG_FASTOPEN), all of them known.
        Expr::Int(v) => {
            let mut rest = *v;
            for (name, bit) in KNOWN {
                if rest & bit != 0 {
                    out.push(name);
                    rest &= !bit;
                }
            }
            rest == 0
        }
        Expr::Symbol(s) => {
            out.push(s);
            true
        }
        Expr::BitOr(v) => v.iter().all(|x| symbols(x, out)),
        _ => false,
    }
}

/// Reads a send's flags argument.
pub(super) fn parse(flags: Option<&Expr>) -> Res<SendFlags> {
    let Some(f) = flags else {
        return Ok(SendFlags::default());
    };
    let mut names = Vec::new();
    if !symbols(f, &mut names) {
        return not_run(format!("send flags {}", fmt_expr(f)));
    }
    if let Some(other) = names.iter().find(|n| !KNOWN.iter().any(|(k, _)| k == *n)) {
        return not_run(format!("send flags {other}"));
    }
    Ok(SendFlags {
        eor: names.contains(&"MSG_EOR"),
        more: names.contains(&"MSG_MORE"),
        fastopen: names.contains(&"MSG_FASTOPEN"),
        dontwait: names.contains(&"MSG_DONTWAIT"),
    })
}

impl Runner<'_> {
    /// Before queueing a send on `fd`: `MSG_MORE` corks the connection for
    /// this call; a send without it takes out a cork an earlier `MSG_MORE`
    /// put in (but not a `TCP_CORK` the application set).
    pub(super) fn apply_more(&mut self, fd: i64, f: SendFlags) {
        let Some(s) = self.sockets.get_mut(&fd) else {
            return;
        };
        let SockKind::Conn(id) = s.kind else {
            return;
        };
        let was = s.more;
        s.more = f.more;
        let corked_by_option = s.cfg.cork;
        if f.more && !was && !corked_by_option {
            let _ = self.stack().set_cork(id, true);
        } else if !f.more && was && !corked_by_option {
            let _ = self.stack().set_cork(id, false);
        }
    }
}
