//! Send flags beyond a plain send: `MSG_EOR` (a record end,
//! [`synack_proto::Stack::send_record`]), `MSG_MORE` (the connection stays
//! corked until a send without it, as Linux's `tcp_push` passes
//! `TCP_NAGLE_CORK` for that call) and `MSG_ZEROCOPY` (a copy, as every send
//! is in synack).

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
}

/// The flags synack maps; any other makes the script not run.
const KNOWN: [&str; 3] = ["MSG_EOR", "MSG_MORE", "MSG_ZEROCOPY"];

fn symbols<'a>(e: &'a Expr, out: &mut Vec<&'a str>) -> bool {
    match e {
        Expr::Int(0) => true,
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
    if names.contains(&"MSG_FASTOPEN") {
        return not_run("Fast Open (send flag MSG_FASTOPEN)");
    }
    if let Some(other) = names.iter().find(|n| !KNOWN.contains(n)) {
        return not_run(format!("send flags {other}"));
    }
    Ok(SendFlags {
        eor: names.contains(&"MSG_EOR"),
        more: names.contains(&"MSG_MORE"),
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
