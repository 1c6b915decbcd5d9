//! Where switches connect: TCP (6653, the IANA port) or a Unix socket.
//!
//! Why a Unix socket: Open vSwitch takes `unix:PATH` as a controller target, and a socket file is
//! reachable from every network namespace on the machine. A switch whose ovs-vswitchd runs in a
//! namespace of its own (as `rudder up` runs it) then reaches a controller on this machine's loopback
//! without a TCP hop or a relay process in between; every PACKET_IN and PACKET_OUT of per-connection
//! steering crosses that path, so the hop showed in the load balancer's rates (docs/performance.md).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

/// Who is on the other end of a switch connection, for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    /// A Unix socket peer has no address of its own: the socket it connected to names it.
    Unix(Arc<Path>),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The read half of a switch connection, whatever the transport.
pub type SwitchReader = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a switch connection.
pub type SwitchWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// An accepted switch connection, split so that the reader and the writer task each own a half.
pub struct SwitchStream {
    pub reader: SwitchReader,
    pub writer: SwitchWriter,
    pub peer: Peer,
}

/// A bound OpenFlow listener.
#[derive(Debug)]
pub enum OpenFlowListener {
    Tcp(TcpListener),
    Unix { listener: UnixListener, path: Arc<Path> },
}

impl From<TcpListener> for OpenFlowListener {
    fn from(listener: TcpListener) -> Self {
        OpenFlowListener::Tcp(listener)
    }
}

impl OpenFlowListener {
    /// Binds a Unix socket at `path`. A socket file already there (left by a controller that did not
    /// exit cleanly) is replaced; any other file there is an error, not something to delete.
    pub fn bind_unix(path: &Path) -> io::Result<OpenFlowListener> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(path)?;
        Ok(OpenFlowListener::Unix { listener, path: Arc::from(path) })
    }

    /// What it listens on, as a switch would be told to connect (`tcp:…` / `unix:…`).
    pub fn target(&self) -> String {
        match self {
            OpenFlowListener::Tcp(l) => match l.local_addr() {
                Ok(addr) => format!("tcp:{addr}"),
                Err(_) => "tcp:?".to_string(),
            },
            OpenFlowListener::Unix { path, .. } => format!("unix:{}", path.display()),
        }
    }

    /// The next switch connection. TCP connections get TCP_NODELAY: OpenFlow is request/response,
    /// and Nagle's algorithm would hold a small message back for the peer's delayed ACK.
    pub async fn accept(&self) -> io::Result<SwitchStream> {
        match self {
            OpenFlowListener::Tcp(l) => {
                let (stream, addr) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                let (reader, writer) = stream.into_split();
                Ok(SwitchStream { reader: Box::new(reader), writer: Box::new(writer), peer: Peer::Tcp(addr) })
            }
            OpenFlowListener::Unix { listener, path } => {
                let (stream, _) = listener.accept().await?;
                let (reader, writer) = stream.into_split();
                Ok(SwitchStream {
                    reader: Box::new(reader),
                    writer: Box::new(writer),
                    peer: Peer::Unix(path.clone()),
                })
            }
        }
    }
}

impl Drop for OpenFlowListener {
    /// Removes the socket file, so a stale one does not suggest a controller is there.
    fn drop(&mut self) {
        if let OpenFlowListener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(&**path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("rudder-listener-{}-{name}", std::process::id()))
    }

    #[tokio::test]
    async fn a_unix_listener_carries_bytes_both_ways_and_names_its_peer_by_the_socket() {
        let path = temp_path("both-ways.sock");
        let listener = OpenFlowListener::bind_unix(&path).expect("bind");
        assert_eq!(listener.target(), format!("unix:{}", path.display()));
        let client = tokio::spawn({
            let path = path.clone();
            async move {
                let mut s = tokio::net::UnixStream::connect(&path).await.expect("connect");
                s.write_all(b"\x04\x00\x00\x08\x00\x00\x00\x01").await.unwrap();
                let mut back = [0u8; 3];
                s.read_exact(&mut back).await.unwrap();
                back
            }
        });
        let mut conn = listener.accept().await.expect("accept");
        assert_eq!(conn.peer.to_string(), format!("unix:{}", path.display()));
        let mut hello = [0u8; 8];
        conn.reader.read_exact(&mut hello).await.unwrap();
        assert_eq!(hello, *b"\x04\x00\x00\x08\x00\x00\x00\x01");
        conn.writer.write_all(b"ack").await.unwrap();
        assert_eq!(&client.await.unwrap(), b"ack");
        drop(listener);
        assert!(!path.exists(), "the socket file goes with the listener");
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_but_another_file_is_left_alone() {
        let path = temp_path("stale.sock");
        let _ = std::fs::remove_file(&path);
        let stale = std::os::unix::net::UnixListener::bind(&path).expect("bind a stale socket");
        drop(stale);
        assert!(path.exists());
        let listener = OpenFlowListener::bind_unix(&path).expect("a stale socket is replaced");
        drop(listener);

        let file = temp_path("not-a-socket");
        std::fs::write(&file, "keep me").unwrap();
        let err = OpenFlowListener::bind_unix(&file).expect_err("a regular file is not replaced");
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        std::fs::remove_file(&file).unwrap();
    }

    #[tokio::test]
    async fn tcp_peers_are_named_by_address() {
        let listener = OpenFlowListener::from(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let target = listener.target();
        let addr: SocketAddr = target.strip_prefix("tcp:").expect("tcp target").parse().unwrap();
        let client = tokio::spawn(async move { tokio::net::TcpStream::connect(addr).await.unwrap() });
        let conn = listener.accept().await.expect("accept");
        let client = client.await.unwrap();
        assert_eq!(conn.peer, Peer::Tcp(client.local_addr().unwrap()));
    }
}
