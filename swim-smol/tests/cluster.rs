//! The shared multi-node suite (swim_core::io::testsuite), on smol.

swim_core::cluster_test_suite!(swim_smol::Smol, smol::block_on);
