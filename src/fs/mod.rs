//! Files and directories for async code: each call runs the `std::fs` call of the same name
//! on the runtime's blocking pool ([`spawn_blocking`](crate::spawn_blocking)), as tokio's
//! `fs` does, so a slow disk or network file system never stalls a scheduler thread.
//!
//! [`File`] implements [`AsyncRead`](crate::io::AsyncRead),
//! [`AsyncWrite`](crate::io::AsyncWrite) and [`AsyncSeek`](crate::io::AsyncSeek) with
//! tokio's semantics: one operation in flight at a time, a write returns once its bytes are
//! buffered and on their way, `flush` waits for it, and a write in flight when the `File` is
//! dropped still completes.
//!
//! Every function must be called inside a spindle runtime (it panics otherwise, as
//! `spawn_blocking` does). Errors are `std::fs`'s own, unchanged.
//!
//! ```
//! spindle::block_on(async {
//!     let dir = std::env::temp_dir().join(format!("spindle-fs-doc-{}", std::process::id()));
//!     spindle::fs::create_dir_all(&dir).await.unwrap();
//!     spindle::fs::write(dir.join("greeting"), "hello").await.unwrap();
//!     assert_eq!(spindle::fs::read_to_string(dir.join("greeting")).await.unwrap(), "hello");
//!     spindle::fs::remove_dir_all(&dir).await.unwrap();
//! });
//! ```

mod file;
mod open_options;
mod read_dir;

pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{read_dir, DirEntry, ReadDir};

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

/// Runs `f` on the blocking pool; a panic in it becomes an `io::Error`.
pub(crate) async fn asyncify<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    // Real files in a model would make its outcome depend on the disk: refused under loom.
    crate::reactor::refuse_under_loom()?;
    match crate::spawn_blocking(f).await {
        Ok(result) => result,
        Err(error) => Err(io::Error::other(format!(
            "a blocking file operation failed: {error}"
        ))),
    }
}

macro_rules! path_fn {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, $std:path) => {
        $(#[$doc])*
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($std), "`].")]
        pub async fn $name(path: impl AsRef<Path>, $($arg: $ty),*) -> io::Result<$ret> {
            let path = path.as_ref().to_owned();
            asyncify(move || $std(path, $($arg),*)).await
        }
    };
}

path_fn!(
    /// Reads the whole file.
    read() -> Vec<u8>, std::fs::read
);
path_fn!(
    /// Reads the whole file as UTF-8 (`InvalidData` if it is not).
    read_to_string() -> String, std::fs::read_to_string
);
path_fn!(
    /// Creates a directory (its parent must exist).
    create_dir() -> (), std::fs::create_dir
);
path_fn!(
    /// Creates a directory and any missing parents.
    create_dir_all() -> (), std::fs::create_dir_all
);
path_fn!(
    /// Removes a file.
    remove_file() -> (), std::fs::remove_file
);
path_fn!(
    /// Removes an empty directory.
    remove_dir() -> (), std::fs::remove_dir
);
path_fn!(
    /// Removes a directory and everything in it.
    remove_dir_all() -> (), std::fs::remove_dir_all
);
path_fn!(
    /// The metadata of `path`, following symlinks.
    metadata() -> Metadata, std::fs::metadata
);
path_fn!(
    /// The metadata of `path` itself (a symlink is not followed).
    symlink_metadata() -> Metadata, std::fs::symlink_metadata
);
path_fn!(
    /// The absolute path with symlinks resolved.
    canonicalize() -> PathBuf, std::fs::canonicalize
);
path_fn!(
    /// Where a symlink points.
    read_link() -> PathBuf, std::fs::read_link
);
path_fn!(
    /// Sets the permissions of `path`.
    set_permissions(permissions: Permissions) -> (), std::fs::set_permissions
);

/// Writes `contents` to `path`, creating or truncating it.
///
/// # Errors
/// As [`std::fs::write`].
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// Renames `from` to `to`, replacing `to` if it exists.
///
/// # Errors
/// As [`std::fs::rename`].
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of `from` to `to`, returning the bytes copied.
///
/// # Errors
/// As [`std::fs::copy`].
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Creates a hard link `link` to `original`.
///
/// # Errors
/// As [`std::fs::hard_link`].
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// Creates a symlink `link` pointing to `original`.
///
/// # Errors
/// As [`std::os::unix::fs::symlink`].
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    asyncify(move || std::os::unix::fs::symlink(original, link)).await
}

/// Whether `path` exists (`Ok(false)` if it does not; an error if that cannot be known).
///
/// # Errors
/// As [`std::fs::exists`]'s underlying `metadata`, other than `NotFound`.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    asyncify(move || match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    })
    .await
}
