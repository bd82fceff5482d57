//! [`AsyncSeek`]: moving the cursor of a stream whose seek may wait (a file on the blocking
//! pool), with tokio's two-step shape: start the seek, then poll it to completion.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Seeks asynchronously: the async twin of [`std::io::Seek`].
///
/// A seek is started with [`start_seek`](AsyncSeek::start_seek) and finished with
/// [`poll_complete`](AsyncSeek::poll_complete); [`AsyncSeekExt::seek`] does both.
pub trait AsyncSeek {
    /// Starts moving the cursor to `position`.
    ///
    /// # Errors
    /// If another operation is still in flight (call `poll_complete` until it is ready
    /// first), or as the seek itself fails.
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()>;

    /// Waits for the seek started last (or any operation in flight) and returns the
    /// cursor's position from the start of the stream.
    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>>;
}

impl<T: ?Sized + AsyncSeek + Unpin> AsyncSeek for &mut T {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        Pin::new(&mut **self).start_seek(position)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut **self).poll_complete(cx)
    }
}

impl<T: ?Sized + AsyncSeek + Unpin> AsyncSeek for Box<T> {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        Pin::new(&mut **self).start_seek(position)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut **self).poll_complete(cx)
    }
}

/// `async` methods for every [`AsyncSeek`].
pub trait AsyncSeekExt: AsyncSeek {
    /// Moves the cursor to `position`, returning the new position from the start.
    ///
    /// An operation still in flight (say a write) is waited for first.
    fn seek(&mut self, position: SeekFrom) -> Seek<'_, Self>
    where
        Self: Unpin,
    {
        Seek {
            seeker: self,
            position: Some(position),
        }
    }

    /// The cursor's position: `seek(SeekFrom::Current(0))`.
    fn stream_position(&mut self) -> Seek<'_, Self>
    where
        Self: Unpin,
    {
        self.seek(SeekFrom::Current(0))
    }
}

impl<S: AsyncSeek + ?Sized> AsyncSeekExt for S {}

/// The future of [`AsyncSeekExt::seek`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Seek<'a, S: ?Sized> {
    seeker: &'a mut S,
    /// `Some` until the seek has been started.
    position: Option<SeekFrom>,
}

impl<S: AsyncSeek + Unpin + ?Sized> Future for Seek<'_, S> {
    type Output = io::Result<u64>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = &mut *self;
        if let Some(position) = this.position {
            // Finish whatever is in flight (its outcome belongs to its own caller), then
            // start ours.
            let _ = ready!(Pin::new(&mut *this.seeker).poll_complete(cx));
            this.position = None;
            Pin::new(&mut *this.seeker).start_seek(position)?;
        }
        Pin::new(&mut *this.seeker).poll_complete(cx)
    }
}
