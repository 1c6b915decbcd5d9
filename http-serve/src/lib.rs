//! Serving an axum [`Router`] with two limits `axum::serve` does not offer: a client must send its
//! first byte, and then each request's headers, within a read time-out (a silent, stalled or
//! half-sent request would otherwise hold its connection and a task for ever), and shutdown waits
//! for open requests only so long. Shared by the controller's REST API and the inference node, as is
//! [`raise_open_file_limit`].

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Accepts connections until `stop` resolves, then lets open requests finish for up to `drain`.
///
/// The first byte of a connection, and then each request's headers, must arrive within
/// `read_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
    read_timeout: Duration,
    drain: Duration,
) {
    // HTTP/1.1 only. hyper-util tells HTTP/1 from HTTP/2 by reading bytes for as long as they match
    // the HTTP/2 preface, with no timer: a client that sent "P" and stopped held its connection
    // for ever, and HTTP/2 has no header-read timeout after it. No client of these services needs
    // HTTP/2.
    let mut builder = ConnectionBuilder::new(TokioExecutor::new()).http1_only();
    builder.http1().timer(TokioTimer::new()).header_read_timeout(read_timeout);
    let graceful = GracefulShutdown::new();
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (builder, router, watcher) = (builder.clone(), router.clone(), graceful.watcher());
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            // The first byte must come within the read timeout, and shutdown stops the wait at once
            // (hyper's header timer would close a silent connection too, but only after the drain).
            let mut first = [0u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(read_timeout, stream.peek(&mut first)) => {
                    if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                }
                _ = stopping.wait_for(|stopping| *stopping) => return,
            }
            let service = TowerToHyperService::new(router);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(drain_s = drain.as_secs(), "requests still open after the drain timeout; closing them");
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that a service holding many
/// connections (switches, HTTP clients) does not fail `accept` with EMFILE at the 1024 that shells
/// often set while the system allows far more. Logs the limit; a failure only warns.
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}
