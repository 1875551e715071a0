//! A TCP proxy that can cut a dependency off: existing connections are closed and new ones
//! are accepted but never answered, as a network partition looks to a client; or open
//! connections are closed (a dropped path), or go silent without closing.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

const STALL_SUBSCRIBERS: u64 = 1;

pub struct ChaosProxy {
    pub port: u16,
    down: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    stall: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (stall, _) = watch::channel(0u64);
        let (down2, cut2, stall2) = (down.clone(), cut.clone(), stall.clone());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((client, _)) = listener.accept().await {
                if down2.load(Ordering::SeqCst) {
                    // Accept and hold: the client waits for an answer that never comes.
                    held.push(client);
                    continue;
                }
                // Healed: whatever was held is cut off.
                held.clear();
                let upstream = upstream.clone();
                let mut cut_rx = cut2.subscribe();
                let mut stall_rx = stall2.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let subscriber = AtomicBool::new(false);
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let upstream = async {
                        let mut buffer = vec![0u8; 16 * 1024];
                        while let Ok(n) = client_read.read(&mut buffer).await {
                            if n == 0 || server_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                            // A Redis client entering pub/sub mode.
                            if buffer[..n]
                                .windows(9)
                                .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"))
                            {
                                subscriber.store(true, Ordering::SeqCst);
                            }
                        }
                    };
                    let downstream = async {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    };
                    let stall = async {
                        loop {
                            if stall_rx.changed().await.is_err() {
                                return std::future::pending().await;
                            }
                            if *stall_rx.borrow() == STALL_SUBSCRIBERS
                                && !subscriber.load(Ordering::SeqCst)
                            {
                                continue;
                            }
                            return;
                        }
                    };
                    let stalled = tokio::select! {
                        () = upstream => false,
                        () = downstream => false,
                        _ = cut_rx.changed() => false,
                        () = stall => true,
                    };
                    if stalled {
                        // Open but silent, like a peer that vanished without a reset.
                        let _ = cut_rx.changed().await;
                    }
                });
            }
        });
        Self {
            port,
            down,
            cut,
            stall,
        }
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

    /// Open Redis pub/sub connections (those that sent SUBSCRIBE) stop carrying data but
    /// stay open, as after a failover behind a proxy that sends no reset; other and new
    /// connections go through.
    pub fn stall_subscribers(&self) {
        self.stall.send_replace(STALL_SUBSCRIBERS);
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
