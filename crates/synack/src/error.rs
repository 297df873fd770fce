//! The core's errors as `std::io::Error`, with the kinds std's sockets report
//! (the conversion itself is `From<synack_proto::Error> for io::Error`).

use std::io;
use synack_proto::Error;

/// Map a core error to the `io::Error` a std socket would return for the
/// same situation (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EADDRINUSE...):
/// the same as `io::Error::from(e)`.
pub fn to_io(e: Error) -> io::Error {
    io::Error::from(e)
}
