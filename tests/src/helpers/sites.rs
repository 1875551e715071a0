//! A local web server for theme sources: a set of paths and bodies (a test may change a
//! body between runs); anything else is 404. Speaks just enough HTTP/1.1 (one request per
//! connection).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

type Pages = Arc<Mutex<HashMap<&'static str, (&'static str, String)>>>;

pub struct Site {
    pub port: u16,
    pages: Pages,
}

impl Site {
    /// Serves `pages`: path -> (content type, body).
    pub async fn start(pages: Vec<(&'static str, &'static str, String)>) -> Self {
        let pages: Pages = Arc::new(Mutex::new(
            pages
                .into_iter()
                .map(|(path, kind, body)| (path, (kind, body)))
                .collect(),
        ));
        let served = pages.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let pages = served.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buffer);
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let page = pages.lock().unwrap().get(path.as_str()).cloned();
                    let (status, kind, body) = match page {
                        Some((kind, body)) => ("200 OK", kind, body),
                        None => ("404 Not Found", "text/plain", "not found".to_owned()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { port, pages }
    }

    /// Serves `body` at `path` from now on.
    pub fn set(&self, path: &'static str, kind: &'static str, body: String) {
        self.pages.lock().unwrap().insert(path, (kind, body));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
