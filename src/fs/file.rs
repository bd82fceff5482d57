//! [`File`]: a file whose reads, writes and seeks run on the blocking pool, one at a time.

use std::fmt;
use std::fs::{Metadata, Permissions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use super::{asyncify, OpenOptions};
use crate::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use crate::task::JoinHandle;

/// The most one read or write moves per blocking job (as tokio: 2 MiB), so one call cannot
/// buffer an unbounded copy of the caller's data.
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file for async code: each read, write or seek runs on the runtime's blocking pool
/// ([`spawn_blocking`](crate::spawn_blocking)), one at a time, as tokio's `File` does.
///
/// - A **write** copies the bytes into the file's buffer, starts a blocking job writing them,
///   and returns `Ready(Ok(n))` at once; the job's outcome is seen by the next operation (an
///   error surfaces from the next write, flush or seek). Call
///   [`flush`](crate::io::AsyncWriteExt::flush) to wait for it.
/// - A **read** reads up to the caller's buffer size (at most 2 MiB) into the file's buffer
///   on the pool, then copies out; bytes left over serve the next read. A write or seek
///   after a read first moves the OS cursor back over those unread bytes.
/// - **Dropping** a `File` with a write in flight does not lose it: the job owns the buffer
///   and a handle to the OS file, and finishes the write (if the runtime is shutting down
///   and the job never started, whoever drops the job writes the bytes instead). Errors of
///   such a write are lost, as with tokio; `flush` or `sync_all` before dropping to see them.
///
/// ```
/// use spindle::io::{AsyncReadExt, AsyncWriteExt};
///
/// spindle::block_on(async {
///     let path = std::env::temp_dir().join(format!("spindle-file-doc-{}", std::process::id()));
///     let mut file = spindle::fs::File::create(&path).await.unwrap();
///     file.write_all(b"hello").await.unwrap();
///     file.flush().await.unwrap();
///     let mut bytes = Vec::new();
///     spindle::fs::File::open(&path).await.unwrap().read_to_end(&mut bytes).await.unwrap();
///     assert_eq!(bytes, b"hello");
///     spindle::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    /// A failed write seen by a read or seek, reported by the next write or flush.
    last_write_err: Option<io::ErrorKind>,
    /// The cursor after the last completed seek (what `poll_complete` returns when idle).
    pos: u64,
}

enum State {
    Idle(Option<Buf>),
    Busy(JoinHandle<(Operation, Buf)>),
}

enum Operation {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

/// The file's one buffer: read-ahead data (`data[pos..]` unread), or bytes being written.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    pos: usize,
}

impl Buf {
    fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    fn unread(&self) -> usize {
        self.data.len() - self.pos
    }

    fn clear(&mut self) {
        self.data.clear();
        self.pos = 0;
    }

    fn copy_to(&mut self, dst: &mut ReadBuf<'_>) -> usize {
        let n = self.unread().min(dst.remaining());
        dst.put_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        if self.is_empty() {
            self.clear();
        }
        n
    }

    fn copy_from(&mut self, src: &[u8]) -> usize {
        debug_assert!(self.is_empty());
        let n = src.len().min(MAX_BUF);
        self.clear();
        self.data.extend_from_slice(&src[..n]);
        n
    }

    /// Forgets the read-ahead bytes, returning how far the OS cursor must move back.
    fn discard_read(&mut self) -> i64 {
        let back = -(self.unread() as i64);
        self.clear();
        back
    }

    fn read_from(&mut self, file: &std::fs::File, len: usize) -> io::Result<usize> {
        self.clear();
        self.data.resize(len.min(MAX_BUF), 0);
        let result = loop {
            match (&*file).read(&mut self.data) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.data.truncate(*result.as_ref().unwrap_or(&0));
        result
    }
}

/// A write handed to the blocking pool. It completes when run, or, if the pool drops it
/// unrun (the runtime shutting down), when dropped: a write the caller was told succeeded is
/// never silently discarded.
struct PendingWrite {
    std: Arc<std::fs::File>,
    /// Where to move the cursor first (back over read-ahead bytes), if anywhere.
    seek_back: Option<i64>,
    buf: Option<Buf>,
}

impl PendingWrite {
    fn run(mut self) -> (Operation, Buf) {
        let mut buf = self.buf.take().expect("run once");
        let result = self.write(&buf);
        buf.clear(); // written (or failed): nothing in it is read-ahead
        (Operation::Write(result), buf)
    }

    fn write(&self, buf: &Buf) -> io::Result<()> {
        if let Some(offset) = self.seek_back {
            (&*self.std).seek(SeekFrom::Current(offset))?;
        }
        (&*self.std).write_all(&buf.data[buf.pos..])
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            let _ = self.write(&buf);
        }
    }
}

fn join_error(error: crate::task::JoinError) -> io::Error {
    io::Error::other(format!("a blocking file operation failed: {error}"))
}

impl File {
    /// Opens `path` read-only.
    ///
    /// # Errors
    /// As [`std::fs::File::open`].
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        let std = asyncify(move || std::fs::File::open(path)).await?;
        Ok(File::from_std(std))
    }

    /// Opens `path` write-only, creating it or truncating it.
    ///
    /// # Errors
    /// As [`std::fs::File::create`].
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        let std = asyncify(move || std::fs::File::create(path)).await?;
        Ok(File::from_std(std))
    }

    /// Options for opening a file (read, write, append, create, truncate).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open `std` file.
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            inner: Mutex::new(Inner {
                state: State::Idle(Some(Buf::default())),
                last_write_err: None,
                pos: 0,
            }),
        }
    }

    /// Waits for the operation in flight, and takes the buffer. Outside the lock: the job's
    /// handle is taken out first, so no waker is replaced or dropped under it.
    async fn settle(&self) -> io::Result<Buf> {
        let state = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut inner.state, State::Idle(None))
        };
        let (result, buf) = match state {
            State::Idle(buf) => (Ok(()), buf.unwrap_or_default()),
            State::Busy(job) => {
                let mut put_back = PutBack {
                    file: self,
                    job: Some(job),
                };
                let outcome = std::future::poll_fn(|cx| {
                    Pin::new(put_back.job.as_mut().expect("until done")).poll(cx)
                })
                .await;
                put_back.job = None; // finished: nothing to put back
                let (operation, buf) = outcome.map_err(join_error)?;
                match operation {
                    Operation::Write(Err(err)) => (Err(err), buf),
                    Operation::Seek(Ok(pos)) => {
                        self.inner.lock().unwrap_or_else(|e| e.into_inner()).pos = pos;
                        (Ok(()), buf)
                    }
                    _ => (Ok(()), buf),
                }
            }
        };
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = inner.last_write_err.take() {
            return Err(kind.into());
        }
        result.map(|()| buf)
    }

    /// Puts the buffer back once a `&self` operation is done with it.
    fn restore(&self, buf: Buf) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Idle(slot @ None) = &mut inner.state {
            *slot = Some(buf);
        }
    }

    /// Waits for any write in flight, then flushes data and metadata to the disk
    /// (`fsync`).
    ///
    /// # Errors
    /// A failed write in flight, or as [`std::fs::File::sync_all`].
    pub async fn sync_all(&self) -> io::Result<()> {
        let buf = self.settle().await?;
        self.restore(buf);
        let std = self.std.clone();
        asyncify(move || std.sync_all()).await
    }

    /// As [`sync_all`](File::sync_all), without flushing metadata (`fdatasync`).
    ///
    /// # Errors
    /// As `sync_all`.
    pub async fn sync_data(&self) -> io::Result<()> {
        let buf = self.settle().await?;
        self.restore(buf);
        let std = self.std.clone();
        asyncify(move || std.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes, after any operation in flight. Unread
    /// read-ahead bytes are dropped (the cursor moves back over them); the cursor is not
    /// otherwise moved.
    ///
    /// # Errors
    /// A failed write in flight, or as [`std::fs::File::set_len`].
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let mut buf = self.settle().await?;
        let back = buf.discard_read();
        self.restore(buf);
        let std = self.std.clone();
        asyncify(move || {
            if back != 0 {
                (&*std).seek(SeekFrom::Current(back))?;
            }
            std.set_len(size)
        })
        .await
    }

    /// The file's metadata.
    ///
    /// # Errors
    /// As [`std::fs::File::metadata`].
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// Changes the file's permissions.
    ///
    /// # Errors
    /// As [`std::fs::File::set_permissions`].
    pub async fn set_permissions(&self, permissions: Permissions) -> io::Result<()> {
        let std = self.std.clone();
        asyncify(move || std.set_permissions(permissions)).await
    }

    /// The `std` file, once the operation in flight has finished (its outcome is dropped,
    /// as with tokio's `into_std`: call [`flush`](crate::io::AsyncWriteExt::flush) first to
    /// see a write's error).
    ///
    /// # Panics
    /// Only if an operation detached earlier (by a cancelled `sync_all` racing another
    /// `&self` call) still holds the file and duplicating its descriptor fails.
    pub async fn into_std(self) -> std::fs::File {
        let _ = self.settle().await;
        match Arc::try_unwrap(self.std) {
            Ok(file) => file,
            Err(shared) => shared
                .try_clone()
                .expect("duplicating the file descriptor of a file still in use"),
        }
    }

    /// The `std` file at once, if no operation is in flight; the `File` back if one is.
    ///
    /// # Errors
    /// The `File` itself, unchanged, while an operation is in flight.
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        let idle = matches!(
            self.inner
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .state,
            State::Idle(_)
        );
        if !idle {
            return Err(self);
        }
        match Arc::try_unwrap(self.std) {
            Ok(file) => Ok(file),
            Err(std) => Err(File {
                std,
                inner: self.inner,
            }),
        }
    }

    /// Reads into `dst` (the body of `poll_read`, kept apart so the `AsyncRead` impl stays a
    /// thin adapter whatever its buffer type).
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        loop {
            match &mut inner.state {
                State::Idle(slot) => {
                    let mut buf = slot.take().unwrap_or_default();
                    if !buf.is_empty() || dst.remaining() == 0 {
                        let n = buf.copy_to(dst);
                        inner.state = State::Idle(Some(buf));
                        return Poll::Ready(Ok(n));
                    }
                    let std = self.std.clone();
                    let len = dst.remaining();
                    inner.state = State::Busy(crate::spawn_blocking(move || {
                        let result = buf.read_from(&std, len);
                        (Operation::Read(result), buf)
                    }));
                }
                State::Busy(job) => {
                    let (operation, mut buf) =
                        ready!(Pin::new(job).poll(cx)).map_err(join_error)?;
                    match operation {
                        Operation::Read(Ok(_)) => {
                            let n = buf.copy_to(dst);
                            inner.state = State::Idle(Some(buf));
                            return Poll::Ready(Ok(n));
                        }
                        Operation::Read(Err(err)) => {
                            buf.clear();
                            inner.state = State::Idle(Some(buf));
                            return Poll::Ready(Err(err));
                        }
                        Operation::Write(result) => {
                            if let Err(err) = result {
                                inner.last_write_err = Some(err.kind());
                            }
                            inner.state = State::Idle(Some(buf));
                        }
                        Operation::Seek(result) => {
                            if let Ok(pos) = result {
                                inner.pos = pos;
                            }
                            inner.state = State::Idle(Some(buf));
                        }
                    }
                }
            }
        }
    }

    /// Waits for the operation in flight; a failed write is returned.
    fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(kind) = inner.last_write_err.take() {
            return Poll::Ready(Err(kind.into()));
        }
        if let State::Busy(job) = &mut inner.state {
            let (operation, buf) = ready!(Pin::new(job).poll(cx)).map_err(join_error)?;
            inner.state = State::Idle(Some(buf));
            match operation {
                Operation::Write(Err(err)) => return Poll::Ready(Err(err)),
                Operation::Seek(Ok(pos)) => inner.pos = pos,
                _ => {}
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Puts a job that [`File::settle`] took out of the state back if `settle` is dropped
/// before the job finished, so its outcome (read-ahead bytes, a write error) reaches the
/// next operation instead of being lost with the handle.
struct PutBack<'a> {
    file: &'a File,
    job: Option<JoinHandle<(Operation, Buf)>>,
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        let mut inner = self.file.inner.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(inner.state, State::Idle(None)) {
            inner.state = State::Busy(job);
        } else {
            // Another `&self` operation has moved on; the job's outcome is its own now.
            drop(inner);
            drop(job); // outside the lock: the handle may hold a waker
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("std", &self.std).finish()
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_read_into(cx, buf).map_ok(drop)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_settle(cx))?;
        let inner = this.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let State::Idle(slot) = &mut inner.state else {
            unreachable!("settled")
        };
        let mut buf = slot.take().unwrap_or_default();
        let back = buf.discard_read();
        let n = buf.copy_from(src);
        let job = PendingWrite {
            std: this.std.clone(),
            seek_back: (back != 0).then_some(back),
            buf: Some(buf),
        };
        inner.state = State::Busy(crate::spawn_blocking(move || job.run()));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_settle(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_settle(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, mut position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let inner = this.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let State::Idle(slot) = &mut inner.state else {
            return Err(io::Error::other(
                "another file operation is in flight: poll_complete it before start_seek",
            ));
        };
        let mut buf = slot.take().unwrap_or_default();
        let back = buf.discard_read();
        if let SeekFrom::Current(offset) = &mut position {
            *offset += back;
        }
        let std = this.std.clone();
        inner.state = State::Busy(crate::spawn_blocking(move || {
            let result = (&*std).seek(position);
            (Operation::Seek(result), buf)
        }));
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let inner = this.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        loop {
            let State::Busy(job) = &mut inner.state else {
                return Poll::Ready(Ok(inner.pos));
            };
            let (operation, buf) = ready!(Pin::new(job).poll(cx)).map_err(join_error)?;
            inner.state = State::Idle(Some(buf));
            match operation {
                Operation::Seek(result) => {
                    if let Ok(pos) = result {
                        inner.pos = pos;
                    }
                    return Poll::Ready(result);
                }
                Operation::Write(Err(err)) => inner.last_write_err = Some(err.kind()),
                _ => {}
            }
        }
    }
}
