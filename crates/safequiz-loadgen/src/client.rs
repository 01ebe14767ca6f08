//! One keep-alive HTTP/1.1 connection, written by hand over a tokio `TcpStream`: the least a
//! request can cost the generator.
//!
//! The generator shares the measured machine with the service, Redis and the flusher, so every
//! microsecond it spends is one the service cannot (the SQL-only journey's pgbench is as lean
//! a C client). A request is formatted into one reused buffer and written with one `write`; the
//! answer is read into another reused buffer and its head parsed by `httparse` (hyper's own
//! parser): no header map, no request builder, no connection task beside the caller, so one
//! request wakes one task. Bodies come with `Content-Length` or chunked; an answer saying
//! `Connection: close`, or any I/O error, drops the connection, and the next request opens a
//! new one.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::{Buf, Bytes, BytesMut};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most headers an answer may carry.
const MAX_HEADERS: usize = 32;

/// A connection that reopens itself when the server closed it.
pub struct Connection {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    /// The request being written.
    out: Vec<u8>,
    /// What was read and not yet consumed.
    input: BytesMut,
}

/// How an answer's body is delimited.
enum Framing {
    Length(usize),
    Chunked,
}

impl Connection {
    /// A connection to `addr` (opened on first use).
    pub fn new(addr: SocketAddr) -> Connection {
        Connection {
            addr,
            host: addr.to_string(),
            stream: None,
            out: Vec::with_capacity(512),
            input: BytesMut::with_capacity(16 * 1024),
        }
    }

    /// Sends one request and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.out.clear();
        write!(
            self.out,
            "{} {path} HTTP/1.1\r\nHost: {}\r\n\
             Accept-Encoding: gzip, deflate, br\r\n",
            method.as_str(),
            self.host
        )?;
        // As every browser (WeChat's included) asks: the service compresses what is worth it
        // (the boards' shared snapshots) and the generator never decodes those bodies.
        if let Some(token) = token {
            write!(self.out, "Authorization: Bearer {token}\r\n")?;
        }
        let body = body.unwrap_or_default();
        if !body.is_empty() {
            self.out
                .extend_from_slice(b"Content-Type: application/json\r\n");
        }
        if !body.is_empty() || method == Method::POST || method == Method::PUT {
            write!(self.out, "Content-Length: {}\r\n", body.len())?;
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&body);
        let answer = self.exchange().await;
        if answer.is_err() {
            self.stream = None;
        }
        answer
    }

    /// Writes the formatted request and reads its answer.
    async fn exchange(&mut self) -> anyhow::Result<(StatusCode, Bytes)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.input.clear();
        }
        let stream = self
            .stream
            .as_mut()
            .context("a connection was just opened")?;
        stream.write_all(&self.out).await?;
        let (status, framing, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.input)? {
                let status = StatusCode::from_u16(response.code.context("a status code")?)?;
                let mut framing = Framing::Length(0);
                let mut close = false;
                for header in response.headers.iter() {
                    if header.name.eq_ignore_ascii_case("content-length") {
                        framing = Framing::Length(std::str::from_utf8(header.value)?.parse()?);
                    } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                        anyhow::ensure!(
                            header.value.eq_ignore_ascii_case(b"chunked"),
                            "unsupported transfer encoding"
                        );
                        framing = Framing::Chunked;
                    } else if header.name.eq_ignore_ascii_case("connection") {
                        close = header.value.eq_ignore_ascii_case(b"close");
                    }
                }
                self.input.advance(head);
                break (status, framing, close);
            }
            read_more(stream, &mut self.input).await?;
        };
        let body = match framing {
            Framing::Length(length) => {
                while self.input.len() < length {
                    read_more(stream, &mut self.input).await?;
                }
                self.input.split_to(length).freeze()
            }
            Framing::Chunked => read_chunked(stream, &mut self.input).await?,
        };
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

/// Reads what the server sent next into `input`; a closed connection is an error.
async fn read_more(stream: &mut TcpStream, input: &mut BytesMut) -> anyhow::Result<()> {
    if input.capacity() - input.len() < 4096 {
        input.reserve(16 * 1024);
    }
    let read = stream.read_buf(input).await?;
    anyhow::ensure!(read > 0, "the server closed the connection mid-answer");
    Ok(())
}

/// The length of the line at the start of `input`, reading until its CRLF has arrived.
async fn line(stream: &mut TcpStream, input: &mut BytesMut) -> anyhow::Result<usize> {
    loop {
        if let Some(end) = input.windows(2).position(|w| w == b"\r\n") {
            return Ok(end);
        }
        read_more(stream, input).await?;
    }
}

/// A chunked body, up to and including its last chunk and trailer.
async fn read_chunked(stream: &mut TcpStream, input: &mut BytesMut) -> anyhow::Result<Bytes> {
    let mut body = BytesMut::new();
    loop {
        let line_end = line(stream, input).await?;
        let size = std::str::from_utf8(&input[..line_end])?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .context("a chunk size")?;
        input.advance(line_end + 2);
        if size == 0 {
            // The trailer: header lines, if any, up to an empty line.
            loop {
                let end = line(stream, input).await?;
                input.advance(end + 2);
                if end == 0 {
                    return Ok(body.freeze());
                }
            }
        }
        while input.len() < size + 2 {
            read_more(stream, input).await?;
        }
        body.extend_from_slice(&input[..size]);
        input.advance(size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    /// An actix-web server on a free loopback port, in its own thread, answering: `/sized` a
    /// JSON body with its length, `/streamed` a body of several chunks (chunked encoding),
    /// `/closing` a body and `Connection: close`, `/echo` what was sent with the token read,
    /// and `/missing` a 404.
    fn server() -> SocketAddr {
        let (sent, addr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(|| {
                    App::new()
                        .route(
                            "/sized",
                            web::get().to(|| async { HttpResponse::Ok().json([1, 2, 3]) }),
                        )
                        .route(
                            "/streamed",
                            web::get().to(|| async {
                                let parts = (0..3).map(|i| {
                                    Ok::<_, actix_web::Error>(Bytes::from(format!("part{i};")))
                                });
                                HttpResponse::Ok().streaming(futures_util::stream::iter(parts))
                            }),
                        )
                        .route(
                            "/closing",
                            web::get()
                                .to(|| async { HttpResponse::Ok().force_close().body("bye") }),
                        )
                        .route(
                            "/echo",
                            web::put().to(|request: HttpRequest, body: Bytes| async move {
                                let token = request
                                    .headers()
                                    .get("authorization")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned();
                                HttpResponse::Created()
                                    .body(format!("{token}|{}", String::from_utf8_lossy(&body)))
                            }),
                        )
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("a free port");
                sent.send(server.addrs()[0]).expect("the test waits");
                server.run().await
            })
        });
        addr.recv().expect("the server started")
    }

    #[tokio::test]
    async fn one_connection_reads_sized_chunked_and_closing_answers_in_turn() {
        let addr = server();
        let mut connection = Connection::new(addr);
        for _ in 0..2 {
            let (status, body) = connection
                .send(Method::GET, "/sized", None, None)
                .await
                .expect("sized");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"[1,2,3]"[..]));
            let (status, body) = connection
                .send(Method::GET, "/streamed", None, None)
                .await
                .expect("streamed");
            assert_eq!(
                (status, &body[..]),
                (StatusCode::OK, &b"part0;part1;part2;"[..])
            );
            let (status, body) = connection
                .send(
                    Method::PUT,
                    "/echo",
                    Some("t0k"),
                    Some(Bytes::from_static(b"{\"a\":1}")),
                )
                .await
                .expect("echo");
            assert_eq!(
                (status, &body[..]),
                (StatusCode::CREATED, &b"Bearer t0k|{\"a\":1}"[..])
            );
            // The server closes after this answer; the next request opens a new connection.
            let (status, body) = connection
                .send(Method::GET, "/closing", None, None)
                .await
                .expect("closing");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"bye"[..]));
            assert!(
                connection.stream.is_none(),
                "a closing answer drops the connection"
            );
            let (status, _) = connection
                .send(Method::GET, "/missing", None, None)
                .await
                .expect("missing");
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }

    #[tokio::test]
    async fn no_server_is_an_error_naming_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("an address");
        drop(listener);
        let error = Connection::new(addr)
            .send(Method::GET, "/", None, None)
            .await
            .expect_err("nothing listens");
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
