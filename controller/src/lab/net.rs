//! Small network helpers for `rudder up`: a one-shot HTTP/1.1 GET (to poll the controller's
//! `/stats/switches` and the nodes' `/health` without an HTTP client dependency) and the OpenFlow
//! relay that lets bridges in the switch namespace reach a controller on the machine's loopback.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// `GET path` from `addr`: the status code and the body. `Connection: close`, so the body is
/// whatever arrives before the server closes.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.take(4 << 20).read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Status code and body of a raw HTTP/1.x response (chunked bodies are de-chunked).
pub fn parse_response(raw: &[u8]) -> io::Result<(u16, String)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("bad HTTP response: {what}"));
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
    let status_line = head.lines().next().ok_or_else(|| bad("empty"))?;
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| bad(status_line))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body =
        if chunked { dechunk(body).ok_or_else(|| bad("broken chunked body"))? } else { body.to_string() };
    Ok((code, body))
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// Accepts on Unix socket `path` forever and relays each connection to TCP `to`, byte for byte
/// (two threads per connection). Bridges in the switch namespace connect to `path`, which every
/// namespace can see; the controller listens on loopback in the machine's namespace.
pub fn relay(path: &Path, to: SocketAddr) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    for conn in listener.incoming() {
        let unix = match conn {
            Ok(u) => u,
            Err(_) => continue,
        };
        // The switch retries on its own when the controller is not up yet.
        if let Ok(tcp) = TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
            let _ = tcp.set_nodelay(true);
            pipe(unix, tcp);
        }
    }
    Ok(())
}

fn pipe(unix: UnixStream, tcp: TcpStream) {
    let (Ok(mut unix_r), Ok(mut tcp_r)) = (unix.try_clone(), tcp.try_clone()) else { return };
    let (mut unix_w, mut tcp_w) = (unix, tcp);
    std::thread::spawn(move || {
        let _ = io::copy(&mut unix_r, &mut tcp_w);
        let _ = tcp_w.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = io::copy(&mut tcp_r, &mut unix_w);
        let _ = unix_w.shutdown(Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn responses_are_parsed_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n[1,2]";
        assert_eq!(parse_response(plain).unwrap(), (200, "[1,2]".to_string()));
        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2\r\n\":\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (503, "{\"a\":".to_string()));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn http_get_reads_a_real_server() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            // Read the whole request first: closing a socket with unread input sends a reset.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            assert!(request.starts_with(b"GET /health HTTP/1.1\r\n"));
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
        });
        assert_eq!(http_get(addr, "/health", Duration::from_secs(5)).unwrap(), (200, "ok".to_string()));
    }

    #[test]
    fn the_relay_carries_bytes_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf.map(|b| b.to_ascii_uppercase())).unwrap();
        });
        let path = std::env::temp_dir().join(format!("rudder-relay-test-{}.sock", std::process::id()));
        let p = path.clone();
        std::thread::spawn(move || relay(&p, addr));
        let mut conn = (0..200)
            .find_map(|_| {
                UnixStream::connect(&path).ok().or_else(|| {
                    std::thread::sleep(Duration::from_millis(10));
                    None
                })
            })
            .expect("relay socket");
        conn.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"HELLO");
        let _ = std::fs::remove_file(&path);
    }
}
