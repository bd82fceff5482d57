//! [`read_dir`]: a directory's entries, fetched in batches on the blocking pool.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::asyncify;

/// How many entries one blocking job reads ahead.
const BATCH: usize = 32;

/// The entries of the directory `path` (not `.` and `..`), in the OS's order.
///
/// ```
/// spindle::block_on(async {
///     let mut entries = spindle::fs::read_dir("/").await.unwrap();
///     let mut count = 0;
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         assert!(entry.path().starts_with("/"));
///         count += 1;
///     }
///     assert!(count > 0);
/// });
/// ```
///
/// # Errors
/// As [`std::fs::read_dir`].
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        std: Some(std),
        batch: VecDeque::new(),
    })
}

/// A directory being read, from [`read_dir`].
#[derive(Debug)]
pub struct ReadDir {
    /// `None` once the OS iterator is exhausted.
    std: Option<std::fs::ReadDir>,
    batch: VecDeque<io::Result<DirEntry>>,
}

impl ReadDir {
    /// The next entry; `Ok(None)` at the end. An error for one entry is returned in its
    /// place, and reading may go on after it.
    ///
    /// # Errors
    /// As iterating [`std::fs::ReadDir`].
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        if self.batch.is_empty() {
            if let Some(mut std) = self.std.take() {
                let (std, batch) = asyncify(move || {
                    let batch: VecDeque<_> = std
                        .by_ref()
                        .take(BATCH)
                        .map(|entry| entry.map(|entry| DirEntry(Arc::new(entry))))
                        .collect();
                    let exhausted = batch.len() < BATCH;
                    Ok(((!exhausted).then_some(std), batch))
                })
                .await?;
                self.std = std;
                self.batch = batch;
            }
        }
        self.batch.pop_front().transpose()
    }
}

/// One entry of a [`ReadDir`].
#[derive(Debug, Clone)]
pub struct DirEntry(Arc<std::fs::DirEntry>);

impl DirEntry {
    /// The directory's path joined with [`file_name`](DirEntry::file_name).
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name within its directory.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.0)
    }

    /// The entry's metadata (a symlink is not followed).
    ///
    /// # Errors
    /// As [`std::fs::DirEntry::metadata`].
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let entry = self.0.clone();
        asyncify(move || entry.metadata()).await
    }

    /// The entry's file type (a symlink is not followed).
    ///
    /// # Errors
    /// As [`std::fs::DirEntry::file_type`].
    pub async fn file_type(&self) -> io::Result<FileType> {
        let entry = self.0.clone();
        asyncify(move || entry.file_type()).await
    }
}
