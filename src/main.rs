//! `spindle`: a guided tour of the forms of concurrency in the article, run live.
//!
//! `cargo run --release` (or `spindle tour`) walks the steps in [`tour::STEPS`], one heading
//! and one "what to notice" line each. Later issues add steps and subcommands; the argument
//! handling here is deliberately small until a real parser replaces it.

#[path = "cli/t1_t2_t3.rs"]
mod t1_t2_t3;
#[path = "cli/tour.rs"]
mod tour;

use std::ffi::OsString;
use std::process::ExitCode;

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Tour,
    Help,
}

/// Exit code for a command line we do not understand (the usual convention of CLI parsers).
const USAGE_ERROR: u8 = 2;

fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let args: Vec<String> = args
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))
        })
        .collect::<Result<_, _>>()?;
    let is_help = |arg: &str| arg == "--help" || arg == "-h";
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["tour"] => Ok(Command::Tour),
        [help] | ["tour", help] | [help, "tour"] if is_help(help) => Ok(Command::Help),
        ["help"] => Ok(Command::Help),
        ["tour", extra, ..] => Err(format!("unexpected argument `{extra}` after `tour`")),
        [first, ..] if first.starts_with('-') => Err(format!("unknown option `{first}`")),
        [first, ..] => Err(format!("unknown subcommand `{first}`")),
    }
}

fn help() -> String {
    let mut text = String::from(
        "spindle: a concurrency runtime written from scratch, and a guided tour of it\n\
         \n\
         Usage:\n    \
         spindle [tour]    run the guided tour (the default of `cargo run --release`)\n    \
         spindle --help    print this help\n\
         \n\
         Tour steps:\n",
    );
    for (number, step) in tour::STEPS.iter().enumerate() {
        text.push_str(&format!("    {}. {}\n", number + 1, step.heading));
    }
    text
}

fn main() -> ExitCode {
    match parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", help());
            ExitCode::SUCCESS
        }
        Ok(Command::Tour) => match tour::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("spindle: error: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("spindle: error: {error} (see `spindle --help`)");
            ExitCode::from(USAGE_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn parses_the_accepted_command_lines() {
        assert_eq!(parse_strs(&[]), Ok(Command::Tour));
        assert_eq!(parse_strs(&["tour"]), Ok(Command::Tour));
        assert_eq!(parse_strs(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["help"]), Ok(Command::Help));
        assert_eq!(parse_strs(&["tour", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn rejects_everything_else_with_the_offending_word() {
        for (args, word) in [
            (&["--bogus"][..], "--bogus"),
            (&["bogus"][..], "bogus"),
            (&["tour", "extra"][..], "extra"),
            (&["tour", "--fast"][..], "--fast"),
        ] {
            let error = parse_strs(args).unwrap_err();
            assert!(error.contains(word), "{args:?}: {error}");
        }
    }
}
