//! The core's errors as `std::io::Error`, with the kinds std's sockets report.

use std::io;
use synack_proto::{ConnError, Error};

/// Map a core error to the `io::Error` a std socket would return for the
/// same situation (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EADDRINUSE...).
pub fn to_io(e: Error) -> io::Error {
    use io::ErrorKind as K;
    let kind = match e {
        Error::WouldBlock => K::WouldBlock,
        Error::BrokenPipe => K::BrokenPipe,
        Error::NotConnected | Error::InvalidHandle => K::NotConnected,
        Error::Connection(c) => match c {
            ConnError::Refused => K::ConnectionRefused,
            ConnError::Reset => K::ConnectionReset,
            ConnError::TimedOut => K::TimedOut,
            ConnError::Aborted | ConnError::StackClosed => K::ConnectionAborted,
            _ => K::Other,
        },
        Error::AddrInUse => K::AddrInUse,
        Error::AddrNotAvailable | Error::NoPortsAvailable => K::AddrNotAvailable,
        Error::InvalidArgument | Error::AddressFamilyMismatch | Error::InvalidState => {
            K::InvalidInput
        }
        Error::TooManyConnections => K::OutOfMemory,
        _ => K::Other,
    };
    io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_std_sockets() {
        let k = |e| to_io(e).kind();
        assert_eq!(
            k(Error::Connection(ConnError::Refused)),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            k(Error::Connection(ConnError::Reset)),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            k(Error::Connection(ConnError::TimedOut)),
            io::ErrorKind::TimedOut
        );
        assert_eq!(k(Error::BrokenPipe), io::ErrorKind::BrokenPipe);
        assert_eq!(k(Error::AddrInUse), io::ErrorKind::AddrInUse);
        assert_eq!(k(Error::WouldBlock), io::ErrorKind::WouldBlock);
    }
}
