//! A child's standard output, read line by line as it arrives: the tokio program
//! `BufReader::new(child.stdout.take().unwrap()).lines()` on spindle.
//!
//! ```text
//! cargo run --example child_lines
//! ```

use std::io;

use spindle::io::{AsyncBufReadExt, BufReader};
use spindle::process::{Command, Stdio};

/// Runs `sh -c 'printf "a\nb\nc\n"'` and returns its lines (each as soon as it arrives)
/// and whether it succeeded.
async fn child_lines() -> io::Result<(Vec<String>, bool)> {
    let mut child = Command::new("sh")
        .args(["-c", r#"printf "a\nb\nc\n""#])
        .stdout(Stdio::piped())
        .kill_on_drop(true) // if we return early, the child goes with us
        .spawn()?;
    let stdout = child.stdout.take().expect("piped above");
    let mut lines = BufReader::new(stdout).lines();
    let mut collected = Vec::new();
    while let Some(line) = lines.next_line().await? {
        collected.push(line);
    }
    Ok((collected, child.wait().await?.success()))
}

fn main() -> io::Result<()> {
    let (lines, success) = spindle::block_on(child_lines())?;
    for line in &lines {
        println!("line: {line}");
    }
    println!("child succeeded: {success}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_childs_lines_arrive_in_order() {
        let (lines, success) = spindle::block_on(super::child_lines()).unwrap();
        assert_eq!(lines, ["a", "b", "c"]);
        assert!(success);
    }
}
