#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
//! A local HTTP server for the download tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A one-file HTTP server with Range support. `cut_first`: the first response stops after
/// that many body bytes (an interrupted download). Returns the port and the request log.
pub fn serve(body: Vec<u8>, cut_first: Option<usize>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let log2 = log.clone();
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let cut = if first { cut_first } else { None };
            first = false;
            handle(stream, &body, cut, &log2);
        }
    });
    (port, log)
}

fn handle(mut stream: TcpStream, body: &[u8], cut: Option<usize>, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    log.lock().unwrap().push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    if path.ends_with("missing.bin") {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let start = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("range: bytes=")
                .map(str::to_string)
        })
        .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok());
    let (status, from) = match start {
        Some(s) if s >= body.len() => {
            let _ = stream.write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        Some(s) => ("206 Partial Content", s),
        None => ("200 OK", 0),
    };
    let rest = &body[from..];
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
        rest.len(),
        body.len() - 1,
        body.len()
    );
    let n = cut.unwrap_or(rest.len()).min(rest.len());
    let _ = stream.write_all(&rest[..n]);
    let _ = stream.flush();
}
