//! The worker side: what a worker process runs after `exec`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};

use super::frame::{
    hello_frame, parse_request, read_frame_blocking, ReplyBuilder, KIND_ITEMS, KIND_UNKNOWN,
    PROTOCOL_VERSION,
};
use super::jobs::Jobs;
use super::sys;

/// The environment variable that marks a process as a pool worker. Its value is
/// `"<protocol version>:<max frame length>"`; the socket is at fd [`sys::WORKER_FD`].
pub(crate) const WORKER_ENV: &str = "SPINDLE_PROCESS_WORKER";

/// Exit status of a worker that could not follow the protocol (bad marker, missing fd,
/// malformed request from the parent).
const EXIT_PROTOCOL: i32 = 70;

/// The marker value for a worker of this build.
pub(crate) fn marker_value(max_frame_len: usize) -> String {
    format!("{PROTOCOL_VERSION}:{max_frame_len}")
}

/// In a worker process started by a [`ProcessPool`](super::ProcessPool): serves `jobs`
/// until the pool closes the connection, then exits the process. In any other process:
/// returns at once.
///
/// Call it first thing in `main`, before starting threads or doing anything the workers
/// should not repeat: a pool's default worker program is the current executable, started
/// again with a marker in its environment.
///
/// ```no_run
/// use spindle::process::{Jobs, ProcessPool};
///
/// fn jobs() -> Jobs {
///     Jobs::new().register("square", |x: u64| x * x)
/// }
///
/// fn main() {
///     spindle::process::run_worker_if_child(&jobs()); // a worker never gets past here
///     let pool = ProcessPool::builder(&jobs()).workers(2).build().unwrap();
///     assert_eq!(pool.submit::<u64, u64>("square", 7).wait().unwrap(), 49);
/// }
/// ```
pub fn run_worker_if_child(jobs: &Jobs) {
    let Some(marker) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    // Not inherited by anything the jobs start: they are not workers.
    std::env::remove_var(WORKER_ENV);
    let code = match serve_from_marker(&marker, jobs) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("spindle worker {}: {err}", std::process::id());
            EXIT_PROTOCOL
        }
    };
    std::process::exit(code);
}

fn serve_from_marker(marker: &OsStr, jobs: &Jobs) -> io::Result<()> {
    let bad_marker = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unexpected {WORKER_ENV}={marker:?} (a pool of another spindle version?)"),
        )
    };
    let marker = marker.to_str().ok_or_else(bad_marker)?;
    let (version, max_frame_len) = marker.split_once(':').ok_or_else(bad_marker)?;
    if version.parse::<u32>().ok() != Some(PROTOCOL_VERSION) {
        return Err(bad_marker());
    }
    let max_frame_len: usize = max_frame_len.parse().map_err(|_| bad_marker())?;
    let socket = sys::adopt_inherited_fd(sys::WORKER_FD)?;
    // Children the jobs start must not inherit the worker's socket.
    sys::set_cloexec(std::os::fd::AsFd::as_fd(&socket))?;
    serve(jobs, &UnixStream::from(socket), max_frame_len)
}

/// Says hello, then answers requests one at a time until end-of-file.
fn serve(jobs: &Jobs, socket: &UnixStream, max_frame_len: usize) -> io::Result<()> {
    install_panic_hook();
    let (mut reader, mut writer) = (socket, socket);
    writer.write_all(&hello_frame(std::process::id()))?;
    loop {
        // The next request usually follows the last reply closely: look for it briefly
        // before sleeping in `read` (see `sys::SPIN`).
        let mut readable = [libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll_spinning(&mut readable, Some(sys::SPIN), sys::SPIN)?;
        let Some(body) = read_frame_blocking(&mut reader, max_frame_len)? else {
            break;
        };
        let request =
            parse_request(&body).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        let reply = if jobs.contains(request.name) {
            let mut reply = ReplyBuilder::new(request.job_id, KIND_ITEMS);
            for item in request.items() {
                reply.push_item(|out| {
                    jobs.run_item(request.name, item, out)
                        .expect("the job exists: checked above")
                });
            }
            reply.finish()
        } else {
            ReplyBuilder::new(request.job_id, KIND_UNKNOWN).finish()
        };
        writer.write_all(&reply)?;
    }
    Ok(())
}

// The worker's own panic bookkeeping; plain `std` thread locals, as nothing here is shared
// between threads (this is not scheduler state the loom models check).
std::thread_local! {
    /// Set while a job runs on this thread: its panics are reported, not printed.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
    /// The last job panic's message and location, left by the hook for `catch_job_panic`.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Job panics go back to the pool as `Panicked` (with their location); others print as
/// usual.
fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if IN_JOB.with(Cell::get) {
            let mut message = payload_message(info.payload());
            if let Some(location) = info.location() {
                message = format!("{message} (at {location})");
            }
            LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(message));
        } else {
            previous(info);
        }
    }));
}

/// Runs `f`, turning a panic into its message.
pub(crate) fn catch_job_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    IN_JOB.with(|flag| flag.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_JOB.with(|flag| flag.set(false));
    result.map_err(|payload| {
        LAST_PANIC
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| payload_message(&*payload))
    })
}
