//! A child's standard output, read line by line as it arrives: the tokio program
//! `BufReader::new(child.stdout.take().unwrap()).lines()` on spindle.
//!
//! ```text
//! cargo run --example child_lines
//! ```

use std::io;

use spindle::io::AsyncReadExt;
use spindle::process::{Command, Stdio};

/// Runs `sh -c 'printf "a\nb\nc\n"'` and returns its lines and whether it succeeded.
async fn child_lines() -> io::Result<(Vec<String>, bool)> {
    let mut child = Command::new("sh")
        .args(["-c", r#"printf "a\nb\nc\n""#])
        .stdout(Stdio::piped())
        .kill_on_drop(true) // if we return early, the child goes with us
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped above");
    let mut lines = Vec::new();
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stdout.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        // Every complete line so far, as soon as it arrives.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&line[..end]).into_owned());
        }
    }
    if !pending.is_empty() {
        lines.push(String::from_utf8_lossy(&pending).into_owned());
    }
    Ok((lines, child.wait().await?.success()))
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
