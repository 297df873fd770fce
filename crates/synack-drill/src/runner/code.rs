//! `%{ }%` code blocks: assertions on the socket under test's `tcpi_*`
//! fields, evaluated by [`crate::tcpinfo`].

use crate::tcpinfo::{self, CodeError, Subject};

use super::socket::SockKind;
use super::{fail, not_run, Res, Runner};

impl Runner<'_> {
    pub(super) fn code(&mut self, line: u32, text: &str) -> Res<()> {
        let now = self.at();
        let subject = match self
            .subject_fd
            .and_then(|fd| self.sockets.get(&fd))
            .map(|s| s.kind)
        {
            Some(SockKind::Listener(_)) => Subject::Listener,
            Some(SockKind::Conn(id)) => {
                let status = self.stack.as_ref().and_then(|s| s.status(id)).map(Box::new);
                Subject::Conn { status, now }
            }
            _ => {
                // The socket was closed: find its connection in the table.
                let st = self
                    .current
                    .and_then(|id| self.stack.as_ref()?.closed_status(id));
                Subject::Conn {
                    status: st.map(Box::new),
                    now,
                }
            }
        };
        match tcpinfo::evaluate(text, &subject) {
            Ok(()) => Ok(()),
            Err(CodeError::Unsupported(what)) => not_run(what),
            Err(CodeError::Failed { assertion, values }) => fail(line, assertion, values),
        }
    }
}
