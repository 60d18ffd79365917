//! A node on a plain std loop, no async runtime (see `swim_examples::plain_loop`).
//!
//! ```text
//! cargo run -p swim-examples --bin plain_loop -- 127.0.0.1:7946
//! cargo run -p swim-examples --bin plain_loop -- 127.0.0.1:7947 127.0.0.1:7946
//! ```
//!
//! The second joins through the first. Each prints membership events and the
//! messages it gets, and reads commands on stdin: `members`,
//! `send <node> <text>` (node names are their addresses), `leave` (or end
//! of input). Ctrl-C stops a node without leaving: the others detect a crash.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;
use swim_core::{Config, Event};
use swim_examples::plain_loop::PlainNode;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |s: &String| s.parse::<SocketAddr>().unwrap_or_else(|e| usage(&format!("{s}: {e}")));
    let bind = args.first().map(parse).unwrap_or_else(|| usage("no bind address"));
    let seed = args.get(1).map(parse);

    let config = Config { bind_addr: bind.ip(), bind_port: bind.port(), ..Config::default() };
    let mut node = PlainNode::bind(config).unwrap_or_else(|e| usage(&e.to_string()));
    node.on_message(|from, topic, payload| {
        println!("message '{topic}' from {}: {}", from.id, String::from_utf8_lossy(payload));
    });
    println!("node {} up", node.local_addr());
    if let Some(seed) = seed {
        node.join(seed);
    }

    // stdin blocks, so a thread reads it and hands the lines to the loop.
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    loop {
        let wait = node.step();
        while let Some(event) = node.poll_event() {
            match event {
                Event::Join(n) => println!("joined: {} ({})", n.id, n.addr),
                Event::Leave(n) => println!("gone: {} ({})", n.id, n.state),
                Event::Suspect(n) => println!("suspect: {}", n.id),
                Event::Alive(n) => println!("alive again: {}", n.id),
                other => println!("{other:?}"),
            }
        }
        match lines.try_recv() {
            Ok(line) => run_command(&mut node, &line),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => run_command(&mut node, "leave"),
        }
        std::thread::sleep(wait);
    }
}

fn run_command(node: &mut PlainNode, line: &str) {
    let mut words = line.trim().splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("members"), ..) => {
            for m in node.members() {
                println!("  {} {} {}", m.id, m.addr, m.state);
            }
        }
        (Some("send"), Some(to), text) => {
            match node.send(&to.into(), "chat", text.unwrap_or("").as_bytes()) {
                Ok(()) => println!("sent to {to}"),
                Err(e) => println!("cannot send: {e}"),
            }
        }
        (Some("leave"), ..) => {
            let told = node.leave(Duration::from_secs(3));
            println!(
                "left ({})",
                if told { "the cluster was told" } else { "timed out telling the cluster" }
            );
            std::process::exit(0);
        }
        (Some(""), ..) | (None, ..) => {}
        _ => println!("commands: members | send <node> <text> | leave"),
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "{why}\nusage: plain_loop <bind-addr> [seed-addr]   e.g. plain_loop 127.0.0.1:7947 127.0.0.1:7946"
    );
    std::process::exit(2)
}
