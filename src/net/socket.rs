//! [`TcpSocket`]: a TCP socket configured before it connects or listens, and the socket
//! options spindle's TCP and UDP types set through `setsockopt` (SO_LINGER, buffer sizes,
//! SO_REUSEADDR/SO_REUSEPORT), which neither std nor mio exposes.

use std::fmt;
use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{TcpListener, TcpStream};

/// Values `setsockopt`/`getsockopt` may copy as raw bytes: plain C structs with no padding
/// invariants or pointers.
///
/// # Safety
/// Every bit pattern of `size_of::<Self>()` bytes must be a valid `Self`.
unsafe trait SockOptValue: Copy {}

// SAFETY: an integer; every bit pattern is valid.
unsafe impl SockOptValue for libc::c_int {}
// SAFETY: two integers; every bit pattern is valid.
unsafe impl SockOptValue for libc::linger {}

fn setsockopt<T: SockOptValue>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: `value` is a live `T` and we pass its exact size; the kernel only reads it.
    // `fd` is open for the call (borrowed).
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn getsockopt<T: SockOptValue>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    // SAFETY: every bit pattern is a valid `T` (`SockOptValue`), so zeroes are.
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live, writable `T` and `len` holds its size; the kernel writes at
    // most `len` bytes. Any bytes it writes form a valid `T` (`SockOptValue`).
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

fn set_flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, on: bool) -> io::Result<()> {
    setsockopt(fd, level, name, libc::c_int::from(on))
}

fn flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    getsockopt::<libc::c_int>(fd, level, name).map(|value| value != 0)
}

fn set_size(fd: BorrowedFd<'_>, name: libc::c_int, size: u32) -> io::Result<()> {
    let size = libc::c_int::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer size above i32::MAX"))?;
    setsockopt(fd, libc::SOL_SOCKET, name, size)
}

fn size(fd: BorrowedFd<'_>, name: libc::c_int) -> io::Result<u32> {
    getsockopt::<libc::c_int>(fd, libc::SOL_SOCKET, name).map(|size| size.max(0) as u32)
}

/// `SO_LINGER`: `None` turns it off; `Some(d)` makes `close` wait up to `d` (whole seconds)
/// for unsent data, and `Some(0)` makes it reset the connection.
pub(super) fn set_linger(fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: libc::c_int::from(linger.is_some()),
        l_linger: linger.map_or(0, |d| {
            d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
        }),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, value)
}

pub(super) fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<Duration>> {
    let value: libc::linger = getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER)?;
    Ok((value.l_onoff != 0).then(|| Duration::from_secs(value.l_linger.max(0) as u64)))
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn to_raw(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain integers and byte arrays; zeroes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr type.
            let raw = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            raw.sin_family = libc::AF_INET as libc::sa_family_t;
            raw.sin_port = v4.port().to_be();
            raw.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let raw = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            raw.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            raw.sin6_port = v6.port().to_be();
            raw.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            raw.sin6_flowinfo = v6.flowinfo();
            raw.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_raw(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in; it is aligned for it.
            let raw =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                raw.sin_addr.s_addr.to_ne_bytes().into(),
                u16::from_be(raw.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let raw = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                raw.sin6_addr.s6_addr.into(),
                u16::from_be(raw.sin6_port),
                raw.sin6_flowinfo,
                raw.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an IPv4 or IPv6 address",
        )),
    }
}

/// A TCP socket not yet connected or listening, to set options that must come first
/// (`SO_REUSEADDR`, buffer sizes, a local address to connect from), as tokio's `TcpSocket`.
///
/// ```
/// use spindle::net::TcpSocket;
///
/// spindle::block_on(async {
///     let socket = TcpSocket::new_v4().unwrap();
///     socket.set_reuseaddr(true).unwrap();
///     socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let listener = socket.listen(128).unwrap();
///     let addr = listener.local_addr().unwrap();
///
///     let server = spindle::spawn(async move { listener.accept().await.unwrap().1 });
///
///     let client = TcpSocket::new_v4().unwrap();
///     client.set_send_buffer_size(64 * 1024).unwrap();
///     let stream = client.connect(addr).await.unwrap();
///     assert_eq!(stream.local_addr().unwrap(), server.await.unwrap());
/// });
/// ```
pub struct TcpSocket {
    fd: OwnedFd,
}

impl TcpSocket {
    fn new(domain: libc::c_int) -> io::Result<TcpSocket> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let kind = libc::SOCK_STREAM;
        // SAFETY: `socket` takes integers only and returns a new fd or -1.
        let fd = unsafe { libc::socket(domain, kind, 0) };
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `socket` just returned this fd; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            // Without SOCK_NONBLOCK/SOCK_CLOEXEC: std sets both through fcntl.
            let std = std::net::TcpStream::from(fd);
            std.set_nonblocking(true)?;
            let fd = OwnedFd::from(std);
            // SAFETY: FD_CLOEXEC on our own open fd; integers only.
            if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
                return Err(io::Error::last_os_error());
            }
            return Ok(TcpSocket { fd });
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Ok(TcpSocket { fd })
    }

    /// A new IPv4 socket.
    ///
    /// # Errors
    /// The OS's (`EMFILE`, ...).
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(libc::AF_INET)
    }

    /// A new IPv6 socket.
    ///
    /// # Errors
    /// The OS's (`EAFNOSUPPORT` without IPv6, `EMFILE`, ...).
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(libc::AF_INET6)
    }

    /// `SO_REUSEADDR`: bind to a port still in `TIME_WAIT` from an earlier connection.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        set_flag(
            self.fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            reuseaddr,
        )
    }

    /// Whether `SO_REUSEADDR` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// `SO_REUSEPORT`: several sockets (each setting it) may bind the same address.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_reuseport(&self, reuseport: bool) -> io::Result<()> {
        set_flag(
            self.fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            reuseport,
        )
    }

    /// Whether `SO_REUSEPORT` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn reuseport(&self) -> io::Result<bool> {
        flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// `SO_SNDBUF`. The kernel may adjust it (Linux doubles it for its bookkeeping); read it
    /// back with [`send_buffer_size`](TcpSocket::send_buffer_size).
    ///
    /// # Errors
    /// `InvalidInput` above `i32::MAX`, or the OS's.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        set_size(self.fd.as_fd(), libc::SO_SNDBUF, size)
    }

    /// `SO_SNDBUF` as the kernel has it.
    ///
    /// # Errors
    /// The OS's.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        size(self.fd.as_fd(), libc::SO_SNDBUF)
    }

    /// `SO_RCVBUF` (adjusted by the kernel as the send buffer is).
    ///
    /// # Errors
    /// `InvalidInput` above `i32::MAX`, or the OS's.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        set_size(self.fd.as_fd(), libc::SO_RCVBUF, size)
    }

    /// `SO_RCVBUF` as the kernel has it.
    ///
    /// # Errors
    /// The OS's.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        size(self.fd.as_fd(), libc::SO_RCVBUF)
    }

    /// `SO_LINGER` (see [`TcpStream::set_linger`]).
    ///
    /// # Errors
    /// The OS's.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        set_linger(self.fd.as_fd(), linger)
    }

    /// `SO_LINGER`'s value.
    ///
    /// # Errors
    /// The OS's.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        linger(self.fd.as_fd())
    }

    /// `TCP_NODELAY`.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        set_flag(
            self.fd.as_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            nodelay,
        )
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn nodelay(&self) -> io::Result<bool> {
        flag(self.fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
    }

    /// Binds to `addr` (port 0: the OS picks one).
    ///
    /// # Errors
    /// The OS's: `AddrInUse`, `AddrNotAvailable`, an address of the other family.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let (storage, len) = to_raw(&addr);
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes; the kernel only reads it.
        let ret = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The bound address (`0.0.0.0:0` before `bind`).
    ///
    /// # Errors
    /// The OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        // SAFETY: zeroes are a valid sockaddr_storage.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage` is writable for `len` bytes; the kernel writes at most that.
        let ret = unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        };
        if ret == -1 {
            return Err(io::Error::last_os_error());
        }
        from_raw(&storage)
    }

    /// The pending error (`SO_ERROR`), cleared by reading it.
    ///
    /// # Errors
    /// The OS's.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        let error: libc::c_int = getsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_ERROR)?;
        Ok((error != 0).then(|| io::Error::from_raw_os_error(error)))
    }

    /// Connects to `addr`, consuming the socket.
    ///
    /// # Errors
    /// The OS's (`ConnectionRefused`, ...), or outside a runtime.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        let (storage, len) = to_raw(&addr);
        // SAFETY: as in `bind`.
        let ret = unsafe {
            libc::connect(
                self.fd.as_raw_fd(),
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if ret == -1 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(error);
            }
        }
        let stream = TcpStream::from_std(std::net::TcpStream::from(self.fd))?;
        stream.wait_connected().await
    }

    /// Listens with a queue of up to `backlog` pending connections, consuming the socket.
    ///
    /// # Errors
    /// The OS's, or outside a runtime.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = backlog.min(libc::c_int::MAX as u32) as libc::c_int;
        // SAFETY: integers only, on our own open fd.
        if unsafe { libc::listen(self.fd.as_raw_fd(), backlog) } == -1 {
            return Err(io::Error::last_os_error());
        }
        TcpListener::from_std(std::net::TcpListener::from(self.fd))
    }

    /// Wraps a std stream's socket (to change its options before handing it on).
    pub fn from_std_stream(stream: std::net::TcpStream) -> TcpSocket {
        TcpSocket { fd: stream.into() }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

impl FromRawFd for TcpSocket {
    /// # Safety
    /// `fd` must be an open TCP socket that nothing else owns.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        TcpSocket {
            // SAFETY: the caller passes ownership of an open fd.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        }
    }
}
