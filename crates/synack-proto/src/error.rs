//! Typed errors of the socket calls and of connections.

use core::fmt;
use synack_wire::listed_enum;

listed_enum! {
    /// Why a connection failed, as the application sees it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum ConnError {
        /// The peer answered our SYN with RST (RFC 9293 3.10.7.3), or while the
        /// connection was opening an ICMP error said its port or protocol is
        /// unreachable or the communication administratively prohibited
        /// (ECONNREFUSED, as Linux and FreeBSD report them).
        Refused,
        /// The peer reset an established connection.
        Reset,
        /// Retransmissions, keepalive probes or the user timeout ran out.
        TimedOut,
        /// The application aborted the connection.
        Aborted,
        /// The stack was closed.
        StackClosed,
        /// An ICMP error said the peer's host cannot be reached (host unreachable,
        /// time exceeded and similar codes; EHOSTUNREACH): reported when the
        /// connection times out after such an error, or when the error aborts an
        /// opening connection.
        HostUnreachable,
        /// An ICMP error said the peer's network cannot be reached (ENETUNREACH),
        /// reported as [`ConnError::HostUnreachable`] is.
        NetworkUnreachable,
        /// An ICMP Parameter Problem said a router could not process our packets'
        /// headers (EPROTO), reported as [`ConnError::HostUnreachable`] is.
        ProtocolError,
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnError::Refused => "connection refused",
            ConnError::Reset => "connection reset",
            ConnError::TimedOut => "connection timed out",
            ConnError::Aborted => "connection aborted",
            ConnError::StackClosed => "stack closed",
            ConnError::HostUnreachable => "no route to host",
            ConnError::NetworkUnreachable => "network unreachable",
            ConnError::ProtocolError => "protocol error",
        })
    }
}

impl std::error::Error for ConnError {}

listed_enum! {
    /// Errors of the socket calls.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum Error {
        /// The handle does not name a live connection or listener.
        InvalidHandle,
        /// The call is not valid in the connection's state (e.g. send before connect).
        InvalidState,
        /// Nothing to read or no room to write now; try again after the next poll.
        WouldBlock,
        /// Writing after shutdown(Write) or close (EPIPE).
        BrokenPipe,
        /// The connection is not yet established.
        NotConnected,
        /// The connection failed.
        Connection(ConnError),
        /// The local address and port are taken.
        AddrInUse,
        /// The local address is not one of the stack's.
        AddrNotAvailable,
        /// No ephemeral port is free for this destination.
        NoPortsAvailable,
        /// The connection limit is reached.
        TooManyConnections,
        /// An argument is out of range (e.g. backlog 0, port 0 to connect to).
        InvalidArgument,
        /// The address families of local and remote differ.
        AddressFamilyMismatch,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidHandle => f.write_str("invalid connection handle"),
            Error::InvalidState => f.write_str("operation not valid in this state"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::BrokenPipe => f.write_str("broken pipe: sending side is closed"),
            Error::NotConnected => f.write_str("not connected"),
            Error::Connection(e) => fmt::Display::fmt(e, f),
            Error::AddrInUse => f.write_str("address in use"),
            Error::AddrNotAvailable => f.write_str("address not available"),
            Error::NoPortsAvailable => f.write_str("no ephemeral port available"),
            Error::TooManyConnections => f.write_str("connection limit reached"),
            Error::InvalidArgument => f.write_str("invalid argument"),
            Error::AddressFamilyMismatch => f.write_str("address family mismatch"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConnError> for Error {
    fn from(e: ConnError) -> Self {
        Error::Connection(e)
    }
}

impl ConnError {
    /// The `std::io::ErrorKind` a std socket reports for the same failure.
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            ConnError::Refused => K::ConnectionRefused,
            ConnError::Reset => K::ConnectionReset,
            ConnError::TimedOut => K::TimedOut,
            ConnError::Aborted | ConnError::StackClosed => K::ConnectionAborted,
            ConnError::HostUnreachable => K::HostUnreachable,
            ConnError::NetworkUnreachable => K::NetworkUnreachable,
            ConnError::ProtocolError => K::InvalidData,
        }
    }
}

impl Error {
    /// The `std::io::ErrorKind` a std socket reports for the same situation
    /// (EAGAIN, EPIPE, ENOTCONN, ECONNREFUSED, ECONNRESET, ETIMEDOUT,
    /// EADDRINUSE, EADDRNOTAVAIL, EINVAL...).
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            Error::WouldBlock => K::WouldBlock,
            Error::BrokenPipe => K::BrokenPipe,
            Error::NotConnected | Error::InvalidHandle => K::NotConnected,
            Error::Connection(c) => c.io_kind(),
            Error::AddrInUse => K::AddrInUse,
            Error::AddrNotAvailable | Error::NoPortsAvailable => K::AddrNotAvailable,
            Error::InvalidArgument | Error::AddressFamilyMismatch | Error::InvalidState => {
                K::InvalidInput
            }
            Error::TooManyConnections => K::OutOfMemory,
        }
    }
}

impl From<Error> for std::io::Error {
    /// The error with the kind [`Error::io_kind`] gives; the source is kept.
    fn from(e: Error) -> std::io::Error {
        std::io::Error::new(e.io_kind(), e)
    }
}

impl From<ConnError> for std::io::Error {
    fn from(e: ConnError) -> std::io::Error {
        std::io::Error::new(e.io_kind(), e)
    }
}

#[cfg(test)]
mod io_tests {
    use super::*;
    use std::io::ErrorKind as K;

    #[test]
    fn kinds_match_std_sockets() {
        let k = |e: Error| std::io::Error::from(e).kind();
        assert_eq!(
            k(Error::Connection(ConnError::Refused)),
            K::ConnectionRefused
        );
        assert_eq!(k(Error::Connection(ConnError::Reset)), K::ConnectionReset);
        assert_eq!(k(Error::Connection(ConnError::TimedOut)), K::TimedOut);
        assert_eq!(
            k(Error::Connection(ConnError::HostUnreachable)),
            K::HostUnreachable
        );
        assert_eq!(
            k(Error::Connection(ConnError::NetworkUnreachable)),
            K::NetworkUnreachable
        );
        assert_eq!(k(Error::BrokenPipe), K::BrokenPipe);
        assert_eq!(k(Error::AddrInUse), K::AddrInUse);
        assert_eq!(k(Error::WouldBlock), K::WouldBlock);
        assert_eq!(k(Error::InvalidArgument), K::InvalidInput);
        // The source stays reachable.
        let e = std::io::Error::from(Error::BrokenPipe);
        assert_eq!(
            e.get_ref().and_then(|s| s.downcast_ref::<Error>()),
            Some(&Error::BrokenPipe)
        );
    }
}
