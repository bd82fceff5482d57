//! Fuzzes the process pool's wire-protocol parsers and the job codec with arbitrary bytes:
//! each must return a value or an error, never panic (a panic is a crash libFuzzer reports),
//! and never allocate out of proportion (libFuzzer's `-rss_limit_mb`/`-malloc_limit_mb`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spindle::process::__fuzz;
use spindle::process::decode_exact;

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the stream is cut into reads and a small frame maximum, so
    // partial frames and over-long prefixes are both reached.
    let (&knob, bytes) = data.split_first().unwrap_or((&1, &[]));
    let chunk = usize::from(knob % 32) + 1;
    let small_max = usize::from(knob) * 4;
    let _ = __fuzz::read_stream(bytes, chunk, 1 << 20);
    let _ = __fuzz::read_stream(bytes, chunk, small_max);
    let _ = __fuzz::parse_reply(bytes);
    let _ = __fuzz::parse_request(bytes);
    let _ = __fuzz::read_request_blocking(bytes, small_max);
    let _ = decode_exact::<Vec<String>>(bytes);
    let _ = decode_exact::<(u64, Option<Vec<u16>>, Result<char, bool>)>(bytes);
    let _ = decode_exact::<Vec<Option<(i128, String)>>>(bytes);
});
