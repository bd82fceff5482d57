use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets the other ready tasks run before this one continues, like `tokio::task::yield_now`.
///
/// The task wakes itself and returns `Pending` once; the scheduler sees the wake arrive
/// during the poll and queues the task behind every task already waiting.
///
/// ```
/// spindle::block_on(async {
///     spindle::task::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
