//! Copies a file the way a tokio program does: open both ends with `spindle::fs::File`, stream
//! the bytes with `spindle::io::copy`, flush, and check the copy.
//!
//! `cargo run --example file_copy -- FROM TO` copies FROM to TO. Without arguments it makes a
//! 1 MiB source file in the temporary directory, copies it, compares the two and removes both.
//! Every file operation runs on the runtime's blocking pool (as in tokio), one at a time per
//! `File`, so the event loop never blocks on the disk.

use std::path::{Path, PathBuf};

use spindle::fs::File;
use spindle::io::AsyncWriteExt;

async fn copy_file(from: &Path, to: &Path) -> std::io::Result<u64> {
    let mut source = File::open(from).await?;
    let mut target = File::create(to).await?;
    let copied = spindle::io::copy(&mut source, &mut target).await?;
    // A write returns once its bytes are handed to the blocking pool: flush waits for them.
    target.flush().await?;
    Ok(copied)
}

/// The demonstration run: a generated source, copied and compared.
async fn demo() -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("spindle-file-copy-{}", std::process::id()));
    spindle::fs::create_dir_all(&dir).await?;
    let (from, to): (PathBuf, PathBuf) = (dir.join("source.bin"), dir.join("copy.bin"));
    let contents: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    spindle::fs::write(&from, &contents).await?;
    let copied = copy_file(&from, &to).await?;
    let same = spindle::fs::read(&to).await? == contents;
    println!("copied {copied} bytes; the copy matches the source: {same}");
    spindle::fs::remove_dir_all(&dir).await?;
    if !same || copied != contents.len() as u64 {
        return Err(std::io::Error::other("the copy differs from its source"));
    }
    Ok(())
}

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = spindle::block_on(async move {
        match args.as_slice() {
            [from, to] => copy_file(from.as_ref(), to.as_ref())
                .await
                .map(|n| println!("copied {n} bytes from {from} to {to}")),
            [] => demo().await,
            _ => Err(std::io::Error::other("usage: file_copy [FROM TO]")),
        }
    });
    if let Err(error) = outcome {
        eprintln!("file_copy: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demonstration_copy_matches_its_source() {
        spindle::block_on(super::demo()).expect("the copy matches");
    }
}
