//! What the HTTP tests share: the real server on a loopback port, as a client meets it.

use ansim_http::{Options, Server};
use app::App;
use std::sync::Arc;

/// Serves `app` with `options` on a fresh loopback port until the returned sender is dropped
/// or sent to; returns the address.
pub async fn serve(app: &Arc<App>, options: Options) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ansim_http::serve_with(Server::new(Arc::clone(app), options), listener, None, async move {
        let _ = rx.await;
    }));
    (addr, stop)
}
