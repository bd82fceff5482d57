//! [`lookup_host`]: name resolution on the blocking pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What [`lookup_host`] accepts: what `std::net::ToSocketAddrs` accepts (`"host:port"`,
/// `(host, port)`, socket addresses), copied into an owned value that can move to the
/// blocking pool. Implemented by spindle only.
pub trait LookupHost: lookup_host_sealed::Sealed {}

mod lookup_host_sealed {
    /// The owned form sent to the blocking pool.
    pub trait Sealed {
        #[doc(hidden)]
        type Owned: std::net::ToSocketAddrs + Send + 'static;
        #[doc(hidden)]
        fn to_owned_host(&self) -> Self::Owned;
    }
}

macro_rules! lookup_host_for {
    ($($ty:ty => $owned:ty, |$v:ident| $conv:expr;)*) => {$(
        impl lookup_host_sealed::Sealed for $ty {
            type Owned = $owned;
            fn to_owned_host(&self) -> $owned {
                let $v = self;
                $conv
            }
        }
        impl LookupHost for $ty {}
    )*};
}

lookup_host_for! {
    &str => String, |v| (*v).to_owned();
    String => String, |v| v.clone();
    (&str, u16) => (String, u16), |v| (v.0.to_owned(), v.1);
    (String, u16) => (String, u16), |v| v.clone();
    SocketAddr => SocketAddr, |v| *v;
    SocketAddrV4 => SocketAddrV4, |v| *v;
    SocketAddrV6 => SocketAddrV6, |v| *v;
    (IpAddr, u16) => (IpAddr, u16), |v| *v;
    (Ipv4Addr, u16) => (Ipv4Addr, u16), |v| *v;
    (Ipv6Addr, u16) => (Ipv6Addr, u16), |v| *v;
}

/// Resolves `host` (a `"name:port"` string, a `(name, port)` pair or an address) on the
/// runtime's blocking pool, through std's resolver (`getaddrinfo`), so a slow DNS answer
/// does not stall a scheduler thread.
///
/// ```
/// spindle::block_on(async {
///     let addrs: Vec<_> = spindle::net::lookup_host("127.0.0.1:80").await.unwrap().collect();
///     assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// });
/// ```
///
/// # Errors
/// The resolver's (an unknown name, a missing or invalid port: `InvalidInput`).
///
/// # Panics
/// Outside a spindle runtime.
pub async fn lookup_host(host: impl LookupHost) -> io::Result<impl Iterator<Item = SocketAddr>> {
    let host = lookup_host_sealed::Sealed::to_owned_host(&host);
    let addrs = crate::fs::asyncify(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&host).map(Iterator::collect::<Vec<_>>)
    })
    .await?;
    Ok(addrs.into_iter())
}
