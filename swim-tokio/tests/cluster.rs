//! The shared multi-node suite (swim_core::io::testsuite), on tokio.

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(f)
}

swim_core::cluster_test_suite!(swim_tokio::Tokio, block_on);
