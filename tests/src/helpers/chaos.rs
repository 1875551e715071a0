//! A TCP proxy that can cut a dependency off: existing connections are closed and new ones
//! are accepted but never answered, as a network partition looks to a client.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct ChaosProxy {
    pub port: u16,
    down: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (down2, cut2) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                if down2.load(Ordering::SeqCst) {
                    // Accept and hold: the client waits for an answer that never comes.
                    held.push(client);
                    continue;
                }
                // Healed: whatever was held is cut off.
                held.clear();
                let upstream = upstream.clone();
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Self { port, down, cut }
    }

    /// Closes every open connection and black-holes new ones.
    pub fn partition(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Closes every open connection, as a dropped network path or a restarted load
    /// balancer would; new connections go through.
    pub fn sever(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
