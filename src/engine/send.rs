//! [`Prepared`] → [`Exchange`]: send one request and read its body, streamed, up to a cap.
//!
//! The body is read chunk by chunk and reading stops the moment it passes the cap, so a
//! runaway response costs at most `cap` bytes of memory. Transport failures become a
//! [`SendError`] whose text says what happened and what to try. Nothing here journals.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::prepare::Prepared;

/// A response, fully read.
pub struct Exchange {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
    pub remote_addr: Option<SocketAddr>,
    /// The SigV4 signature the request carried, to be masked like a secret.
    pub signature: Option<String>,
}

/// Why no complete response arrived. Display: what happened, then what to try.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    #[error(
        "connection refused by {host}: nothing is listening there; check the target URL and that the service is up"
    )]
    Refused { host: String },
    #[error(
        "cannot resolve host `{host}` (DNS lookup failed); check the spelling of the target URL and this machine's DNS"
    )]
    Dns { host: String },
    #[error("no complete response from {host} within {}s (timeout); the service may be overloaded or unreachable: retry, or raise the target's `timeout`", after.as_secs_f64())]
    Timeout { host: String, after: Duration },
    #[error("TLS handshake with {host} failed: {detail}; {hint}")]
    Tls {
        host: String,
        detail: String,
        hint: &'static str,
    },
    #[error(
        "connection to {host} was cut while reading the response body (after {bytes} bytes); the server or a proxy dropped it: retry the step"
    )]
    Reset { host: String, bytes: u64 },
    #[error(
        "response body from {host} is larger than the {cap}-byte cap (stopped reading at {read} bytes); if that size is expected, raise the step's `max_body`"
    )]
    TooLarge { host: String, cap: u64, read: u64 },
    #[error("request to {host} failed: {detail}")]
    Other { host: String, detail: String },
    #[error("{0}")]
    Sign(String),
}

fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.as_str().to_owned(),
    }
}

/// The whole chain of causes, lowercased, for classification.
fn chain(err: &(dyn std::error::Error + 'static)) -> (String, Option<std::io::ErrorKind>) {
    let mut text = String::new();
    let mut kind = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push_str(": ");
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            kind.get_or_insert(io.kind());
        }
        cur = e.source();
    }
    (text, kind)
}

fn classify(err: &reqwest::Error, host: String, timeout: Duration, read: Option<u64>) -> SendError {
    use std::io::ErrorKind;
    let (text, kind) = chain(err);
    if err.is_timeout() || kind == Some(ErrorKind::TimedOut) {
        return SendError::Timeout {
            host,
            after: timeout,
        };
    }
    if let Some(bytes) = read {
        return SendError::Reset { host, bytes };
    }
    if kind == Some(ErrorKind::ConnectionRefused) || text.contains("connection refused") {
        return SendError::Refused { host };
    }
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
        || text.contains("no address associated")
    {
        return SendError::Dns { host };
    }
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        let (detail, hint) = if text.contains("unknownissuer") || text.contains("unknown issuer") {
            (
                "the server's certificate is signed by an unknown certificate authority".to_owned(),
                "if the service uses a private CA, give the target `ca = \"ca.pem\"`",
            )
        } else if text.contains("certificaterequired") || text.contains("certificate required") {
            (
                "the server requires a client certificate".to_owned(),
                "give the target `client_cert = \"client.pem\"` (certificate and key in one PEM)",
            )
        } else {
            (
                last_cause(err),
                "check the URL's host name and the server's certificate (or the target's `ca`)",
            )
        };
        return SendError::Tls { host, detail, hint };
    }
    if matches!(
        kind,
        Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe)
    ) {
        return SendError::Reset { host, bytes: 0 };
    }
    SendError::Other {
        host,
        detail: last_cause(err),
    }
}

fn last_cause(err: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Send and read the body, stopping at `cap` bytes.
pub async fn send(
    client: &reqwest::Client,
    timeout: Duration,
    prepared: &Prepared,
    cap: u64,
) -> Result<Exchange, SendError> {
    let host = host_of(&prepared.url);
    let mut request = client.request(prepared.method.clone(), prepared.url.clone());
    for (name, value) in &prepared.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &prepared.body {
        // A runbook's own Content-Type wins (AWS JSON APIs want `application/x-amz-json-1.1`).
        let typed = prepared
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
        if !typed {
            request = request.header(reqwest::header::CONTENT_TYPE, body.content_type);
        }
        request = request.body(body.bytes.clone());
    } else if [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
    ]
    .contains(&prepared.method)
    {
        // `Content-Length: 0`, as RFC 9110 asks of a body-less POST/PUT: S3 refuses a PUT
        // without it (411).
        request = request.header(reqwest::header::CONTENT_LENGTH, "0");
    }
    // Signed last, on the request exactly as it leaves (see `sigv4`).
    let mut request = request
        .build()
        .map_err(|e| classify(&e, host.clone(), timeout, None))?;
    let signature = match &prepared.signer {
        Some(signer) => Some(
            signer
                .sign(&mut request, std::time::SystemTime::now())
                .map_err(|e| SendError::Sign(e.to_string()))?,
        ),
        None => None,
    };
    let started = Instant::now();
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| classify(&e, host.clone(), timeout, None))?;
    let status = response.status().as_u16();
    let remote_addr = response.remote_addr();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let announced = response.content_length();
    if let Some(len) = announced
        && len > cap
    {
        return Err(SendError::TooLarge { host, cap, read: 0 });
    }
    // Room for the announced length at once (it is within the cap): growing by doubling would
    // hold up to twice a 50 MB body while it is read.
    let mut body = Vec::with_capacity(announced.map_or(0, |len| usize::try_from(len).unwrap_or(0)));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > cap {
                    // Dropping `response` closes the connection: nothing more is read.
                    return Err(SendError::TooLarge {
                        host,
                        cap,
                        read: body.len() as u64 + chunk.len() as u64,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(classify(&e, host, timeout, Some(body.len() as u64))),
        }
    }
    Ok(Exchange {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
        remote_addr,
        signature,
    })
}
