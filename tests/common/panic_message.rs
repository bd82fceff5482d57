//! The text of a caught panic, shared by the test binaries that assert on one.

/// The message of a panic payload (`panic!` with a literal or with a format string); empty
/// for any other payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}
