//! Property: whatever datagrams arrive, a running node counts them and stays
//! a healthy, joinable member; with encryption on, none of it is delivered
//! as a message.

use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swim_tokio::{Cluster, Config};

fn config(name: &str, encrypted: bool) -> Config {
    Config {
        bind_addr: "127.0.0.1".parse().unwrap(),
        bind_port: 0,
        node_name: Some(name.into()),
        protocol_interval: Duration::from_millis(200),
        probe_timeout: Duration::from_millis(100),
        encryption_enabled: encrypted,
        secret_key: vec![4; 32],
        ..Config::default()
    }
}

fn run(packets: Vec<Vec<u8>>, encrypted: bool) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let node = Cluster::create(config("target", encrypted)).await.unwrap();
        node.start();
        let delivered = Arc::new(AtomicUsize::new(0));
        let d = delivered.clone();
        node.on_message(move |_, _, _| {
            d.fetch_add(1, Ordering::Relaxed);
        });
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for p in &packets {
            sock.send_to(p, node.local_addr()).await.unwrap();
        }
        let want = packets.len() as u64;
        for _ in 0..100 {
            if node.metrics().packets_received >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let m = node.metrics();
        prop_assert_eq!(m.packets_received, want, "every datagram was seen");
        if encrypted {
            prop_assert_eq!(delivered.load(Ordering::Relaxed), 0, "nothing unauthenticated is delivered");
            // Each one is refused and counted under its reason.
            prop_assert_eq!(m.dropped_total(), want, "each one is counted: {:?}", m);
        }
        // Still a healthy member: a new node joins through it.
        let other = Cluster::create(config("other", encrypted)).await.unwrap();
        other.start();
        prop_assert_eq!(other.join(&[node.local_addr().to_string()]).await.unwrap(), 1);
        prop_assert_eq!(node.members().len(), 2);
        other.shutdown().await;
        node.shutdown().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_hurt_a_node(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1400), 1..40),
        encrypted in any::<bool>(),
    ) {
        run(packets, encrypted)?;
    }

    #[test]
    fn well_formed_prefixes_with_garbage_never_hurt_a_node(
        tails in proptest::collection::vec((0u8..14, proptest::collection::vec(any::<u8>(), 0..200)), 1..40),
    ) {
        // A valid type byte first gets past the outermost check into each decoder.
        let packets = tails.into_iter().map(|(t, mut rest)| { rest.insert(0, t); rest }).collect();
        run(packets, false)?;
    }
}
