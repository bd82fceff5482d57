//! Networking: TCP, UDP and Unix-domain sockets on the reactor.
//!
//! Each type wraps a nonblocking mio socket registered with the runtime it was created in.
//! An operation is tried directly; only when the OS says `WouldBlock` does the task store its
//! waker (one per direction, so a reader and a writer can wait on the same socket) and
//! return `Pending`, to be woken by the reactor when an event names this socket. Errors are
//! the OS's own `io::Error`s (refused, reset, address in use, `EMFILE`), returned as they
//! come; an `accept` that fails with `EMFILE` leaves the listener usable, and the next
//! `accept` succeeds once descriptors are free.
//!
//! Addresses are given as [`std::net::ToSocketAddrs`] and resolved on the
//! calling thread: literal addresses never block, host names may (DNS). To resolve a name
//! without blocking the scheduler, use [`lookup_host`] (on the blocking pool) first.
//!
//! [`TcpSocket`] sets options before a socket connects or listens (`SO_REUSEADDR`,
//! `SO_REUSEPORT`, buffer sizes); `TcpStream` has `set_linger`, `set_ttl`, `set_nodelay`
//! and `peek`; `UdpSocket` has `peek_from`, `set_broadcast` and IPv4 multicast.

mod lookup;
mod socket;
mod split;
mod tcp;
mod udp;
mod unix;

pub use lookup::{lookup_host, LookupHost};
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, SplitStream, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr`, failing if it names no address.
pub(crate) fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        ));
    }
    Ok(addrs)
}

/// Tries `each` on every address in turn; the last error if none works.
pub(crate) async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut each: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    crate::reactor::refuse_under_loom()?;
    let mut last_error = None;
    for addr in resolve(addr)? {
        match each(addr).await {
            Ok(value) => return Ok(value),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.expect("resolve returns at least one address"))
}

/// Exposes the socket's fd, like the std types (for `setsockopt` and friends).
macro_rules! impl_as_fd {
    ($($ty:ty),*) => {$(
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }
    )*};
}

impl_as_fd!(TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream);
