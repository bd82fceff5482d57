//! UDP: [`UdpSocket`].

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::reactor::registration::PollEvented;
use crate::reactor::scheduled_io::Direction;

/// A UDP socket.
///
/// All methods take `&self`, so one socket can be shared (e.g. in an `Arc`) by a sending task
/// and a receiving task.
///
/// ```
/// use spindle::net::UdpSocket;
/// spindle::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    pub(super) io: PollEvented<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that works).
    ///
    /// # Errors
    /// The OS's (address in use, ...); or outside a runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        super::each_addr(addr, |addr| async move {
            UdpSocket::from_mio(mio::net::UdpSocket::bind(addr)?)
        })
        .await
    }

    fn from_mio(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    /// Wraps a bound std socket (switched to nonblocking mode here).
    ///
    /// # Errors
    /// Outside a runtime, or if the OS refuses.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        UdpSocket::from_mio(mio::net::UdpSocket::from_std(socket))
    }

    /// Sets the default peer for [`send`](Self::send) and the only source [`recv`](Self::recv)
    /// accepts.
    ///
    /// # Errors
    /// The OS's.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        super::each_addr(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends a datagram to `target`, returning the bytes sent.
    ///
    /// # Errors
    /// The OS's.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = super::resolve(target)?[0];
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.get_ref().send_to(buf, target))
            .await
    }

    /// Receives a datagram, returning its length and sender. A datagram longer than `buf` is
    /// truncated.
    ///
    /// # Errors
    /// The OS's.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().recv_from(buf))
            .await
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    /// The OS's (`NotConnected` without [`connect`](Self::connect); `ConnectionRefused` if an
    /// earlier datagram drew an ICMP "port unreachable").
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Write, || self.io.get_ref().send(buf))
            .await
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    /// The OS's.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().recv(buf))
            .await
    }

    /// Receives a datagram without removing it (the next receive gets it again), returning
    /// its length and sender. Waits until one is there.
    ///
    /// # Errors
    /// The OS's, or if the runtime shut down.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().peek_from(buf))
            .await
    }

    /// Sets `SO_BROADCAST` (may send to a broadcast address).
    ///
    /// # Errors
    /// The OS's.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the OS picks).
    ///
    /// # Errors
    /// The OS's (e.g. `InvalidInput` for a non-multicast address).
    pub fn join_multicast_v4(
        &self,
        multiaddr: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> io::Result<()> {
        self.io.get_ref().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves a group joined with [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    ///
    /// # Errors
    /// The OS's (`EADDRNOTAVAIL` if not a member).
    pub fn leave_multicast_v4(
        &self,
        multiaddr: std::net::Ipv4Addr,
        interface: std::net::Ipv4Addr,
    ) -> io::Result<()> {
        self.io.get_ref().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Sets `IP_MULTICAST_LOOP` (multicast sent here is looped back to local members).
    ///
    /// # Errors
    /// The OS's.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    /// The OS's.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    /// The OS's.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// The local address.
    ///
    /// # Errors
    /// The OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    /// `NotConnected` without [`connect`](Self::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
