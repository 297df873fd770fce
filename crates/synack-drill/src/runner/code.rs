//! `%{ }%` code blocks: assertions on the socket under test's `tcpi_*`
//! fields, evaluated by [`crate::tcpinfo`].

use crate::tcpinfo::{self, CodeError, Subject};

use super::socket::SockKind;
use super::{fail, not_run, Res, Runner};

impl Runner<'_> {
    pub(super) fn code(&mut self, line: u32, text: &str) -> Res<()> {
        let subject = match self
            .subject_fd
            .and_then(|fd| self.sockets.get(&fd))
            .map(|s| s.kind)
        {
            Some(SockKind::Listener(_)) => Subject::Listener,
            Some(SockKind::Conn(id)) => {
                Subject::Conn(self.stack.as_ref().and_then(|s| s.status(id)).map(Box::new))
            }
            _ => {
                // The socket was closed: find its connection in the table.
                let st = self
                    .current
                    .and_then(|id| self.stack.as_ref()?.closed_status(id));
                Subject::Conn(st.map(Box::new))
            }
        };
        match tcpinfo::evaluate(text, &subject) {
            Ok(()) => Ok(()),
            Err(CodeError::Unsupported(what)) => not_run(what),
            Err(CodeError::Failed { assertion, values }) => fail(line, assertion, values),
        }
    }
}
