//! The shared multi-node suite (swim_core::io::testsuite), on tokio.

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(f)
}

swim_core::cluster_test_suite!(swim_tokio::Tokio, block_on);

/// `Cluster::create` outside a Tokio runtime is an error, not a panic.
#[test]
fn create_outside_a_runtime_is_an_error() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let cfg = swim_core::io::testsuite::config("outside");
    let mut fut = std::pin::pin!(swim_tokio::Cluster::create(cfg));
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(e)) => {
            assert!(matches!(e, swim_tokio::CreateError::NoRuntime), "{e}");
            assert!(e.to_string().contains("Tokio runtime"), "{e}");
        }
        other => panic!("expected NoRuntime at once, got {:?}", other.map(|r| r.map(drop))),
    }
}
