//! A tokio program ported to spindle by changing `tokio::` to `spindle::`.
//!
//! The program (`examples/tokio_port/program.rs`) is written with `tokio::` paths: spawn 100
//! tasks and collect them with a `JoinSet`, `select!` a channel against a timeout, `join!`,
//! `try_join!`, `timeout`, an abort handle. It is compiled here twice, against tokio and with
//! `use spindle as tokio;` in scope, and both runs must report the same thing (the test below
//! checks it; `cargo test --examples` runs it).
//!
//! Run: `cargo run --example tokio_port`.

/// The program on spindle: every `tokio::` path resolves to `spindle::`.
mod on_spindle {
    use spindle as tokio;
    include!("tokio_port/program.rs");
}

/// The same text on tokio, for comparison.
mod on_tokio {
    include!("tokio_port/program.rs");
}

fn main() {
    let spindle = on_spindle::run();
    println!("on spindle: {spindle:#?}");
    let tokio = on_tokio::run();
    println!("on tokio:   {tokio:#?}");
    println!(
        "same result on both: {}",
        format!("{spindle:?}") == format!("{tokio:?}")
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tokio_program_runs_on_spindle_with_the_same_result() {
        let spindle = super::on_spindle::run();
        let tokio = super::on_tokio::run();
        assert_eq!(format!("{spindle:?}"), format!("{tokio:?}"));
        assert_eq!(spindle.collected, 100);
        assert_eq!(
            spindle.sum_of_squares,
            (0..100u64).map(|i| i * i).sum::<u64>()
        );
        assert_eq!(spindle.channel_vs_timeout, "message");
        assert_eq!(spindle.idle_channel_vs_timeout, "timed out");
        assert_eq!(spindle.try_joined, Err("refused".to_owned()));
        assert!(spindle.timeout_elapsed && spindle.aborted);
    }
}
