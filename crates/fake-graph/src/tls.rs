//! HTTPS on loopback for tests: a test certificate authority, and a TLS front that stands in
//! for a tunnel (ngrok, cloudflared, a reverse proxy). The front terminates TLS with a
//! certificate for `127.0.0.1` and `localhost` signed by the test CA and passes the bytes on to
//! a plain HTTP address — the receiver — exactly as a tunnel does. Trusting the CA (the fake's
//! verifier through `Routing::trusted_ca_pem`, OptDesk through `SSL_CERT_FILE`) is what makes
//! it "valid HTTPS"; anything that does not trust it refuses the front, as Meta would.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made for one test run, and a leaf for loopback signed by it.
pub struct TestCa {
    /// The CA's certificate (PEM): what a client must trust.
    pub ca_pem: String,
    ca_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "OptDesk test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("a self-signed CA");
        let leaf_key = KeyPair::generate().expect("a leaf key");
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf parameters");
        leaf.distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let leaf_cert = leaf
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("a leaf signed by the CA");
        TestCa {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            leaf_der: leaf_cert.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    /// Writes the CA certificate where `SSL_CERT_FILE` can name it.
    pub fn write_pem(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![
                    CertificateDer::from(self.leaf_der.clone()),
                    CertificateDer::from(self.ca_der.clone()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key_der.clone())),
            )
            .expect("the leaf certificate and key");
        Arc::new(config)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// A running TLS front on `127.0.0.1`: `https://127.0.0.1:PORT` → `http://backend`.
pub struct TlsFront {
    pub url: String,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsFront {
    /// Starts a front on a free port (or `port`, to come back on the same address after a
    /// restart, like a tunnel with a stable domain).
    pub fn start(ca: &TestCa, backend: SocketAddr, port: Option<u16>) -> TlsFront {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the TLS front");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind((
                "127.0.0.1",
                port.unwrap_or(0),
            )))
            .expect("a port for the TLS front");
        let addr = listener.local_addr().expect("its address");
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                // No Nagle: small requests and answers must not wait for a delayed ACK.
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return; // a client that does not trust the CA hangs up here
                    };
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                        // The tunnel is up but nothing listens behind it: a 502, as tunnels say.
                        use tokio::io::AsyncWriteExt;
                        let _ = tls
                            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                        let _ = tls.shutdown().await;
                        return;
                    };
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        TlsFront {
            url: format!("https://127.0.0.1:{}", addr.port()),
            addr,
            runtime: Some(runtime),
        }
    }

    /// Stops the front (the tunnel goes down); the backend keeps running.
    pub fn stop(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
