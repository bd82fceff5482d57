//! [`Jobs`]: the functions a worker process can run, registered by name.

use std::any::{type_name, TypeId};
use std::collections::HashMap;
use std::fmt;

use super::codec::{decode_exact, Decode, Encode};
use super::frame::{TAG_BAD_INPUT, TAG_OK, TAG_PANICKED};
use super::worker::catch_job_panic;

/// Runs one item: decodes the input, calls the function, appends the output (or a message)
/// to the buffer and returns the item's tag.
type RunItem = dyn Fn(&[u8], &mut Vec<u8>) -> u8 + Send + Sync;

/// A job's input and output types, so the pool can refuse a mismatched `submit` locally.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signature {
    input: TypeId,
    input_name: &'static str,
    output: TypeId,
    output_name: &'static str,
}

impl Signature {
    fn of<I: 'static, O: 'static>() -> Signature {
        Signature {
            input: TypeId::of::<I>(),
            input_name: type_name::<I>(),
            output: TypeId::of::<O>(),
            output_name: type_name::<O>(),
        }
    }

    /// `Err` with an explanation if the job was submitted as `I -> O` but registered
    /// otherwise.
    pub(crate) fn check<I: 'static, O: 'static>(&self, name: &str) -> Result<(), String> {
        if self.input == TypeId::of::<I>() && self.output == TypeId::of::<O>() {
            return Ok(());
        }
        Err(format!(
            "job {name:?} is registered as {} -> {}, submitted as {} -> {}",
            self.input_name,
            self.output_name,
            type_name::<I>(),
            type_name::<O>()
        ))
    }
}

struct Job {
    run: Box<RunItem>,
    signature: Signature,
}

/// The functions a worker can run, each under a name, with typed input and output.
///
/// The same `Jobs` is given to [`run_worker_if_child`](super::run_worker_if_child) (the
/// worker side serves them) and to [`ProcessPool::builder`](super::ProcessPool::builder)
/// (the pool side checks names and types before sending).
///
/// ```
/// use spindle::process::Jobs;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let jobs = Jobs::new()
///     .register("square", square)
///     .register("greet", |name: String| format!("hello, {name}"));
/// assert!(jobs.contains("greet"));
/// ```
#[derive(Default)]
pub struct Jobs {
    jobs: HashMap<String, Job>,
}

impl Jobs {
    /// No jobs yet.
    pub fn new() -> Jobs {
        Jobs::default()
    }

    /// Adds `function` under `name`.
    ///
    /// # Panics
    /// If `name` is already registered: two functions under one name is a programming error
    /// that would otherwise surface far away, in a worker.
    pub fn register<I, O, F>(mut self, name: impl Into<String>, function: F) -> Jobs
    where
        I: Decode + 'static,
        O: Encode + 'static,
        F: Fn(I) -> O + Send + Sync + 'static,
    {
        let name = name.into();
        let run = move |input: &[u8], out: &mut Vec<u8>| -> u8 {
            let input = match decode_exact::<I>(input) {
                Ok(input) => input,
                Err(err) => {
                    out.extend_from_slice(
                        format!("input is not a {}: {err}", type_name::<I>()).as_bytes(),
                    );
                    return TAG_BAD_INPUT;
                }
            };
            let start = out.len();
            match catch_job_panic(|| function(input).encode(out)) {
                Ok(()) => TAG_OK,
                Err(message) => {
                    out.truncate(start);
                    out.extend_from_slice(message.as_bytes());
                    TAG_PANICKED
                }
            }
        };
        let job = Job {
            run: Box::new(run),
            signature: Signature::of::<I, O>(),
        };
        if self.jobs.insert(name.clone(), job).is_some() {
            panic!("a job named {name:?} is already registered");
        }
        self
    }

    /// Whether a job of this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.jobs.contains_key(name)
    }

    /// Runs one item of the named job; `None` if there is no such job.
    pub(crate) fn run_item(&self, name: &str, input: &[u8], out: &mut Vec<u8>) -> Option<u8> {
        self.jobs.get(name).map(|job| (job.run)(input, out))
    }

    pub(crate) fn signatures(&self) -> HashMap<String, Signature> {
        self.jobs
            .iter()
            .map(|(name, job)| (name.clone(), job.signature))
            .collect()
    }
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.jobs.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Jobs").field("names", &names).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn items_run_decode_errors_and_panics_are_tagged() {
        let jobs = Jobs::new()
            .register("double", |x: u32| x * 2)
            .register("fail", |_: u8| -> u8 { panic!("no luck") });
        let mut out = Vec::new();
        assert_eq!(
            jobs.run_item("double", &21u32.to_le_bytes(), &mut out),
            Some(TAG_OK)
        );
        assert_eq!(out, 42u32.to_le_bytes());

        out.clear();
        assert_eq!(
            jobs.run_item("double", &[1, 2], &mut out),
            Some(TAG_BAD_INPUT)
        );
        assert!(String::from_utf8(out.clone())
            .unwrap()
            .contains("input is not a u32"));

        out.clear();
        assert_eq!(jobs.run_item("fail", &[0], &mut out), Some(TAG_PANICKED));
        assert!(String::from_utf8(out.clone()).unwrap().contains("no luck"));

        assert_eq!(jobs.run_item("missing", &[], &mut out), None);
    }

    #[test]
    fn signatures_catch_mismatched_types() {
        let jobs = Jobs::new().register("double", |x: u32| x * 2);
        let signature = jobs.signatures()["double"];
        assert!(signature.check::<u32, u32>("double").is_ok());
        let err = signature.check::<String, u32>("double").unwrap_err();
        assert!(err.contains("registered as u32 -> u32"), "{err}");
    }

    #[test]
    #[should_panic(expected = "already registered")]
    fn duplicate_names_panic() {
        let _ = Jobs::new()
            .register("a", |x: u8| x)
            .register("a", |x: u8| x);
    }
}
