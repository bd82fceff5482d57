//! Files (issue 14 §2): `spindle::fs` against `tokio::fs`, each scenario written once over
//! the two modules (same names and shapes) and run in its own fresh directory under
//! `std::env::temp_dir()`; the two runtimes must agree.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

/// A fresh, empty directory named after the scenario and the runtime; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(scenario: &str, side: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "spindle-differential-fs-{}-{scenario}-{side}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 5 MiB of a pattern that does not repeat at any power-of-two stride: more than two of the
/// 2 MiB chunks one blocking job moves, so a chunk dropped or reordered shows.
fn pattern() -> Vec<u8> {
    (0..5 * 1024 * 1024 + 17u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn on_spindle<T>(future: impl std::future::Future<Output = T>) -> T {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(future)
}

fn on_tokio<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

macro_rules! scenarios {
    ($side:ident, $fs:path, $io:path) => {
        mod $side {
            use super::*;
            use $fs as fs;
            use $io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

            pub async fn round_trip(dir: PathBuf) -> (bool, bool, String, u64) {
                let data = pattern();
                let whole = dir.join("whole");
                fs::write(&whole, &data).await.unwrap();
                let read_back = fs::read(&whole).await.unwrap() == data;

                let streamed = dir.join("streamed");
                let mut file = fs::File::create(&streamed).await.unwrap();
                file.write_all(&data).await.unwrap();
                file.flush().await.unwrap();
                let std_file = file.into_std().await;
                assert_eq!(std_file.metadata().unwrap().len(), data.len() as u64);
                let mut file = fs::File::open(&streamed).await.unwrap();
                let mut contents = Vec::new();
                file.read_to_end(&mut contents).await.unwrap();
                let streamed_back = contents == data;

                fs::write(dir.join("text"), "héllo").await.unwrap();
                let text = fs::read_to_string(dir.join("text")).await.unwrap();
                let len = fs::metadata(&streamed).await.unwrap().len();
                (read_back, streamed_back, text, len)
            }

            pub async fn read_dir_listing(dir: PathBuf) -> Vec<(String, bool)> {
                for name in ["b", "a", "c"] {
                    fs::write(dir.join(name), name).await.unwrap();
                }
                fs::create_dir_all(dir.join("sub/deeper")).await.unwrap();
                fs::rename(dir.join("c"), dir.join("sub/c")).await.unwrap();
                assert_eq!(fs::copy(dir.join("a"), dir.join("copy")).await.unwrap(), 1);
                let mut names = Vec::new();
                let mut entries = fs::read_dir(&dir).await.unwrap();
                while let Some(entry) = entries.next_entry().await.unwrap() {
                    let is_dir = entry.file_type().await.unwrap().is_dir();
                    assert_eq!(entry.path(), dir.join(entry.file_name()));
                    names.push((entry.file_name().into_string().unwrap(), is_dir));
                }
                names.sort();
                names
            }

            pub async fn append_and_create_new(dir: PathBuf) -> (Vec<u8>, std::io::ErrorKind) {
                let path = dir.join("log");
                fs::write(&path, "first;").await.unwrap();
                let mut file = fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .await
                    .unwrap();
                file.write_all(b"second;").await.unwrap();
                file.write_all(b"third").await.unwrap();
                file.flush().await.unwrap();
                let exists = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await
                    .unwrap_err()
                    .kind();
                (fs::read(&path).await.unwrap(), exists)
            }

            /// Writes without flushing and drops the file; the caller drops the runtime and
            /// reads the file with std.
            pub async fn write_then_drop(path: PathBuf) {
                let mut file = fs::File::create(&path).await.unwrap();
                file.write_all(&pattern()).await.unwrap();
                drop(file);
            }

            pub async fn seek(dir: PathBuf) -> Vec<u64> {
                let path = dir.join("seek");
                fs::write(&path, "hello world").await.unwrap();
                let mut file = fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .await
                    .unwrap();
                let mut positions = Vec::new();
                positions.push(file.seek(SeekFrom::Start(6)).await.unwrap());
                let mut word = [0; 5];
                file.read_exact(&mut word).await.unwrap();
                assert_eq!(&word, b"world");
                positions.push(file.seek(SeekFrom::Current(-5)).await.unwrap());
                positions.push(file.seek(SeekFrom::End(-1)).await.unwrap());
                // A one-byte read reads ahead; the position must still be one byte in, and a
                // write must land there.
                file.seek(SeekFrom::Start(0)).await.unwrap();
                let mut one = [0; 1];
                file.read_exact(&mut one).await.unwrap();
                positions.push(file.stream_position().await.unwrap());
                file.read_exact(&mut one).await.unwrap();
                file.write_all(b"EL").await.unwrap();
                file.flush().await.unwrap();
                positions.push(file.stream_position().await.unwrap());
                file.set_len(4).await.unwrap();
                file.sync_all().await.unwrap();
                positions.push(file.metadata().await.unwrap().len());
                let contents = fs::read(&path).await.unwrap();
                positions.extend(contents.iter().map(|&b| u64::from(b)));
                positions
            }

            pub async fn errors(dir: PathBuf) -> Vec<std::io::ErrorKind> {
                fs::create_dir(dir.join("full")).await.unwrap();
                fs::write(dir.join("full/x"), "x").await.unwrap();
                fs::write(dir.join("latin1"), [0xe9u8]).await.unwrap();
                vec![
                    fs::read(dir.join("missing")).await.unwrap_err().kind(),
                    fs::File::open(dir.join("missing"))
                        .await
                        .unwrap_err()
                        .kind(),
                    fs::remove_file(dir.join("missing"))
                        .await
                        .unwrap_err()
                        .kind(),
                    fs::create_dir(dir.join("full")).await.unwrap_err().kind(),
                    fs::read_to_string(dir.join("latin1"))
                        .await
                        .unwrap_err()
                        .kind(),
                    fs::read_dir(dir.join("missing")).await.unwrap_err().kind(),
                    fs::remove_dir(dir.join("full")).await.unwrap_err().kind(),
                ]
            }

            pub async fn removal(dir: PathBuf) -> Vec<bool> {
                fs::create_dir_all(dir.join("tree/a/b")).await.unwrap();
                fs::write(dir.join("tree/a/b/f"), "f").await.unwrap();
                fs::write(dir.join("lone"), "l").await.unwrap();
                fs::remove_file(dir.join("lone")).await.unwrap();
                fs::remove_dir_all(dir.join("tree")).await.unwrap();
                fs::create_dir(dir.join("empty")).await.unwrap();
                fs::remove_dir(dir.join("empty")).await.unwrap();
                vec![
                    dir.join("lone").exists(),
                    dir.join("tree").exists(),
                    dir.join("empty").exists(),
                ]
            }
        }
    };
}

scenarios!(spindle_side, spindle::fs, spindle::io);
scenarios!(tokio_side, tokio::fs, tokio::io);

macro_rules! differential {
    ($name:ident, $check:expr) => {
        #[test]
        fn $name() {
            let spindle_dir = Scratch::new(stringify!($name), "spindle");
            let tokio_dir = Scratch::new(stringify!($name), "tokio");
            let spindle = on_spindle(spindle_side::$name(spindle_dir.0.clone()));
            let tokio = on_tokio(tokio_side::$name(tokio_dir.0.clone()));
            assert_eq!(spindle, tokio);
            let check: &dyn Fn(_) = &$check;
            check(spindle);
        }
    };
}

differential!(round_trip, |(whole, streamed, text, len): (
    bool,
    bool,
    String,
    u64
)| {
    assert!(whole && streamed);
    assert_eq!(text, "héllo");
    assert_eq!(len, pattern().len() as u64);
});

differential!(read_dir_listing, |names: Vec<(String, bool)>| {
    let expected = [("a", false), ("b", false), ("copy", false), ("sub", true)];
    let expected: Vec<_> = expected.iter().map(|&(n, d)| (n.to_owned(), d)).collect();
    assert_eq!(names, expected);
});

differential!(append_and_create_new, |(contents, exists): (
    Vec<u8>,
    std::io::ErrorKind
)| {
    assert_eq!(contents, b"first;second;third");
    assert_eq!(exists, std::io::ErrorKind::AlreadyExists);
});

differential!(seek, |positions: Vec<u64>| {
    // Start(6), Current(-5) after reading "world", End(-1), one byte in, three bytes in after
    // writing "EL" at 2, length after set_len(4), then the four bytes "heEL".
    let mut expected = vec![6, 6, 10, 1, 4, 4];
    expected.extend(b"heEL".iter().map(|&b| u64::from(b)));
    assert_eq!(positions, expected);
});

differential!(errors, |kinds: Vec<std::io::ErrorKind>| {
    use std::io::ErrorKind::*;
    assert_eq!(
        kinds,
        [
            NotFound,
            NotFound,
            NotFound,
            AlreadyExists,
            InvalidData,
            NotFound,
            DirectoryNotEmpty
        ]
    );
});

differential!(removal, |exists: Vec<bool>| assert_eq!(exists, [false; 3]));

/// A write still in flight when its `File` is dropped completes: after the runtime is gone,
/// the whole file is on disk.
#[test]
fn a_write_in_flight_when_the_file_is_dropped_still_lands() {
    let spindle_dir = Scratch::new("drop_in_flight", "spindle");
    let tokio_dir = Scratch::new("drop_in_flight", "tokio");
    let spindle_path = spindle_dir.0.join("unflushed");
    let tokio_path = tokio_dir.0.join("unflushed");
    on_spindle(spindle_side::write_then_drop(spindle_path.clone()));
    on_tokio(tokio_side::write_then_drop(tokio_path.clone()));
    let spindle = std::fs::read(&spindle_path).unwrap();
    let tokio = std::fs::read(&tokio_path).unwrap();
    assert!(
        spindle == tokio,
        "spindle wrote {} bytes, tokio {}",
        spindle.len(),
        tokio.len()
    );
    assert!(spindle == pattern());
}

/// Spindle only: a write job still *queued* when the runtime shuts down (the only blocking
/// thread is busy) is cancelled by the pool, and the job's drop writes the bytes, so they are
/// on disk when `shutdown_timeout` returns. Tokio's `File` gets the same guarantee from
/// "mandatory" blocking tasks, which its pool still runs once a thread frees up, after
/// `shutdown_timeout` has returned; so the two differ in when, not whether.
#[test]
fn spindle_a_queued_write_cancelled_at_shutdown_is_still_written() {
    use spindle::io::AsyncWriteExt;
    use std::sync::mpsc;

    let dir = Scratch::new("cancelled_write", "spindle");
    let path = dir.0.join("queued");
    let rt = spindle::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (release, blocked) = mpsc::channel::<()>();
    let (started, is_started) = mpsc::channel();
    let std_file = std::fs::File::create(&path).unwrap();
    rt.block_on(async {
        // Occupy the one blocking thread, so the write job stays queued.
        drop(spindle::spawn_blocking(move || {
            started.send(()).unwrap();
            let _ = blocked.recv();
        }));
        is_started.recv().unwrap();
        let mut file = spindle::fs::File::from_std(std_file);
        file.write_all(b"queued bytes").await.unwrap();
        drop(file);
    });
    rt.shutdown_timeout(Duration::from_millis(50));
    assert_eq!(std::fs::read(&path).unwrap(), b"queued bytes");
    release.send(()).unwrap();
}

/// Spindle only (tokio's `File` serialises the same calls with an async mutex, so it has no
/// such window): a `sync_all` cancelled while it waits for a read job in flight puts the job
/// back, so the bytes that job read ahead still reach the next read.
#[test]
fn spindle_a_cancelled_sync_all_loses_no_read_ahead() {
    use spindle::io::{AsyncRead, AsyncReadExt};
    use std::future::{poll_fn, Future};
    use std::pin::Pin;
    use std::sync::mpsc;
    use std::task::Poll;

    let dir = Scratch::new("cancelled_sync", "spindle");
    let path = dir.0.join("abc");
    std::fs::write(&path, "abcdef").unwrap();
    let rt = spindle::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let contents = rt.block_on(async {
        let mut file = spindle::fs::File::from_std(std::fs::File::open(&path).unwrap());
        let (release, blocked) = mpsc::channel::<()>();
        let (started, is_started) = mpsc::channel();
        let blocker = spindle::spawn_blocking(move || {
            started.send(()).unwrap();
            let _ = blocked.recv();
        });
        is_started.recv().unwrap();
        // The one blocking thread is busy: the read job stays queued, so both polls pend.
        let mut first = [0; 3];
        let mut first = spindle::io::ReadBuf::new(&mut first);
        let read_pending =
            poll_fn(|cx| Poll::Ready(Pin::new(&mut file).poll_read(cx, &mut first).is_pending()))
                .await;
        assert!(read_pending);
        {
            let mut sync = std::pin::pin!(file.sync_all());
            let sync_pending = poll_fn(|cx| Poll::Ready(sync.as_mut().poll(cx).is_pending())).await;
            assert!(sync_pending);
        } // cancelled while it holds the read job
        release.send(()).unwrap();
        blocker.await.unwrap();
        let mut contents = Vec::new();
        file.read_to_end(&mut contents).await.unwrap();
        contents
    });
    assert_eq!(contents, b"abcdef");
}
