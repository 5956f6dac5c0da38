//! A TCP relay between the app and the broker that a test can cut, stall and restore:
//! the broker "goes away" (or stops answering) without touching the real one other tests
//! share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

struct Flags {
    up: AtomicBool,
    stalled: AtomicBool,
    cut: Notify,
    resumed: Notify,
}

/// The relay.
pub struct Relay {
    addr: SocketAddr,
    flags: Arc<Flags>,
}

/// Copies one direction, holding bytes back while the relay is stalled.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    flags: Arc<Flags>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while flags.stalled.load(Ordering::SeqCst) {
            let resumed = flags.resumed.notified();
            if !flags.stalled.load(Ordering::SeqCst) {
                break;
            }
            resumed.await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Relay {
    /// Starts relaying 127.0.0.1:<random> to the broker at 127.0.0.1:5672.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flags = Arc::new(Flags {
            up: AtomicBool::new(true),
            stalled: AtomicBool::new(false),
            cut: Notify::new(),
            resumed: Notify::new(),
        });
        let f = flags.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if !f.up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let f = f.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::select! {
                        () = pump(ri, wo, f.clone()) => {}
                        () = pump(ro, wi, f.clone()) => {}
                        () = f.cut.notified() => {}
                    }
                });
            }
        });
        Relay { addr, flags }
    }

    /// `127.0.0.1:<port>`: the node as `/readyz` and `check-config` name it.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The AMQP URL through the relay.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        self.flags.up.store(false, Ordering::SeqCst);
        self.flags.cut.notify_waiters();
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.flags.up.store(true, Ordering::SeqCst);
    }

    /// Keeps connections open but stops passing bytes: a broker that hangs.
    pub fn stall(&self) {
        self.flags.stalled.store(true, Ordering::SeqCst);
    }

    /// Passes bytes again.
    pub fn resume(&self) {
        self.flags.stalled.store(false, Ordering::SeqCst);
        self.flags.resumed.notify_waiters();
    }
}
