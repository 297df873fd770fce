//! Socket options that shape what is sent: `TCP_NODELAY` (Nagle) and
//! `TCP_CORK`.

use synack_proto::ConnId;

use crate::runner::socket::Socket;
use crate::runner::Runner;

impl Runner<'_> {
    /// `TCP_NODELAY` or `TCP_CORK` set to `v` on a socket (and its
    /// connection, if it has one).
    pub(super) fn set_send_shaping(
        &mut self,
        name: &str,
        v: i64,
        conn: Option<ConnId>,
        ns: &mut Socket,
    ) {
        match name {
            "TCP_NODELAY" => {
                ns.cfg.nagle = v == 0;
                if let Some(id) = conn {
                    let _ = self.stack().set_nodelay(id, !ns.cfg.nagle);
                    // tcp(7): setting it flushes what waits, even while corked.
                    if !ns.cfg.nagle {
                        let _ = self.stack().push(id);
                    }
                }
            }
            "TCP_CORK" => {
                ns.cfg.cork = v != 0;
                if let Some(id) = conn {
                    // A cork an earlier MSG_MORE put in is this one now.
                    ns.more = false;
                    let _ = self.stack().set_cork(id, ns.cfg.cork);
                }
            }
            _ => {}
        }
    }
}
