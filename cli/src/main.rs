//! `spindle`: a guided tour of the forms of concurrency in the article, run live; an
//! experiment that measures which form suits which workload; and a scheduler trace.
//!
//! ```text
//! spindle [tour]                 the guided tour (the default of `cargo run --release`)
//! spindle choose [sizes...]      CPU-bound / fast I/O / slow I/O under four forms, measured
//! spindle trace [--out FILE]     a traced two-worker runtime, as Chrome trace JSON
//! ```
//!
//! The process pools in the tour and in `choose` run their jobs in worker processes that are
//! this program started again; `main` hands those over to `run_worker_if_child` first.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{value_parser, Arg, ArgMatches, Command};

/// Exit code for a command line we do not understand (clap's, and the usual convention).
const USAGE_ERROR: u8 = 2;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn steps_list() -> String {
    let mut text = String::from("Tour steps:\n");
    for (number, step) in cli::tour::STEPS.iter().enumerate() {
        text.push_str(&format!("  {}. {}\n", number + 1, step.heading));
    }
    text
}

fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

/// A `--name N` flag taking a whole number ≥ 1, with a default unless it depends on the
/// machine (then `run` picks it).
fn number(name: &'static str, help: &'static str, default: Option<&'static str>) -> Arg {
    let arg = Arg::new(name)
        .long(name)
        .value_name("N")
        .help(help)
        .value_parser(at_least_one);
    match default {
        Some(default) => arg.default_value(default),
        None => arg,
    }
}

fn command() -> Command {
    Command::new("spindle")
        .about("A concurrency runtime written from scratch, and a guided tour of it")
        .after_help(steps_list())
        .disable_version_flag(true)
        .subcommand(
            Command::new("tour")
                .about("Run the guided tour (the default): every form of concurrency, live")
                .after_help(steps_list()),
        )
        .subcommand(
            Command::new("choose")
                .about(
                    "Measure CPU-bound, fast-I/O and slow-I/O workloads under threads, a thread \
                     pool, a process pool and async tasks, and say which form won",
                )
                .arg(number(
                    "primes-below",
                    "CPU-bound: count the primes below N",
                    Some("2000000"),
                ))
                .arg(number("chunks", "CPU-bound: split into N jobs", Some("16")))
                .arg(number(
                    "fast-connections",
                    "Fast I/O: N connections, answered at once",
                    Some("8"),
                ))
                .arg(number(
                    "fast-rounds",
                    "Fast I/O: N request/answer round trips per connection",
                    Some("2000"),
                ))
                .arg(number(
                    "slow-connections",
                    "Slow I/O: N connections, one round trip each",
                    Some("5000"),
                ))
                .arg(number(
                    "slow-delay-ms",
                    "Slow I/O: the server answers after N milliseconds",
                    Some("5"),
                ))
                .arg(number(
                    "pool-threads",
                    "Threads of the thread pool (default: Python's ThreadPoolExecutor's, \
                     min(32, cores + 4))",
                    None,
                ))
                .arg(number(
                    "processes",
                    "Worker processes of the process pool (default: the cores, as Python's Pool)",
                    None,
                ))
                .arg(number(
                    "async-workers",
                    "Worker threads of the async runtime (default: the cores)",
                    None,
                )),
        )
        .subcommand(
            Command::new("trace")
                .about(
                    "Run a small workload on a traced two-worker runtime and write Chrome trace \
                     JSON (open in https://ui.perfetto.dev or chrome://tracing)",
                )
                .arg(
                    Arg::new("out")
                        .long("out")
                        .short('o')
                        .value_name("FILE")
                        .help("Where to write the trace")
                        .default_value("trace.json")
                        .value_parser(value_parser!(PathBuf)),
                ),
        )
        .subcommand(
            // The peer of `choose`'s I/O workloads, run as a child process.
            Command::new("__serve").hide(true).arg(
                Arg::new("delay-ms")
                    .long("delay-ms")
                    .required(true)
                    .value_parser(value_parser!(u64)),
            ),
        )
}

fn get(matches: &ArgMatches, name: &str) -> u64 {
    *matches
        .get_one::<u64>(name)
        .expect("this flag has a default")
}

/// A flag whose default depends on the machine.
fn get_or(matches: &ArgMatches, name: &str, default: usize) -> usize {
    matches
        .get_one::<u64>(name)
        .map_or(default, |&n| n as usize)
}

fn run(matches: &ArgMatches) -> Result<(), String> {
    match matches.subcommand() {
        None | Some(("tour", _)) => cli::tour::run(),
        Some(("choose", args)) => cli::choose::run(cli::choose::Sizes {
            primes_below: get(args, "primes-below"),
            chunks: get(args, "chunks"),
            fast_connections: get(args, "fast-connections") as usize,
            fast_rounds: get(args, "fast-rounds"),
            slow_connections: get(args, "slow-connections") as usize,
            slow_delay_ms: get(args, "slow-delay-ms"),
            pool_threads: get_or(args, "pool-threads", (cores() + 4).min(32)),
            processes: get_or(args, "processes", cores()),
            async_workers: get_or(args, "async-workers", cores()),
        }),
        Some(("trace", args)) => {
            cli::trace::run(args.get_one::<PathBuf>("out").expect("--out has a default"))
        }
        Some(("__serve", args)) => cli::choose::serve(Duration::from_millis(get(args, "delay-ms"))),
        Some((other, _)) => Err(format!("unknown subcommand {other}")),
    }
}

/// clap's error, as one line: its first line without the `error: ` prefix it adds.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

fn main() -> ExitCode {
    // In a worker process of one of our process pools this serves jobs and exits.
    spindle::process::run_worker_if_child(&cli::jobs::jobs());

    let matches = match command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let help = error.to_string();
                print!("{help}");
                if !help.ends_with('\n') {
                    println!();
                }
                return ExitCode::SUCCESS;
            }
            // Point at the subcommand's own help when the error is inside one.
            let subcommand = std::env::args()
                .nth(1)
                .filter(|arg| ["tour", "choose", "trace"].contains(&arg.as_str()));
            let help = match subcommand {
                Some(name) => format!("spindle {name} --help"),
                None => "spindle --help".to_owned(),
            };
            eprintln!("spindle: error: {} (see `{help}`)", one_line(&error));
            return ExitCode::from(USAGE_ERROR);
        }
    };
    match run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("spindle: error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ArgMatches, clap::Error> {
        command().try_get_matches_from(std::iter::once("spindle").chain(args.iter().copied()))
    }

    #[test]
    fn the_parser_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn parses_the_accepted_command_lines() {
        assert!(parse(&[]).unwrap().subcommand().is_none());
        assert_eq!(parse(&["tour"]).unwrap().subcommand_name(), Some("tour"));
        let choose = parse(&["choose", "--chunks", "4"]).unwrap();
        let (_, args) = choose.subcommand().unwrap();
        assert_eq!(get(args, "chunks"), 4);
        assert_eq!(get(args, "fast-connections"), 8);
        let trace = parse(&["trace", "--out", "x.json"]).unwrap();
        let (_, args) = trace.subcommand().unwrap();
        assert_eq!(
            args.get_one::<PathBuf>("out").unwrap(),
            &PathBuf::from("x.json")
        );
    }

    #[test]
    fn rejects_everything_else_in_one_line_naming_the_offending_word() {
        for (args, word) in [
            (&["--bogus"][..], "--bogus"),
            (&["bogus"][..], "bogus"),
            (&["tour", "extra"][..], "extra"),
            (&["choose", "--chunks", "0"][..], "0"),
            (&["choose", "--chunks", "many"][..], "many"),
        ] {
            let error = parse(args).unwrap_err();
            let line = one_line(&error);
            assert!(line.contains(word), "{args:?}: {line}");
            assert!(!line.contains('\n'), "{args:?}: {line}");
        }
    }
}
