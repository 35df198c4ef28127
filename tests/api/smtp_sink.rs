//! A real SMTP server on 127.0.0.1 for the notification tests: the
//! `aiosmtpd` sink of tests/support/smtp_sink.py, run by the test venv's
//! Python (`ROOTVAULT_TEST_PYTHON`, set by scripts/test). It can be stopped
//! and started again on the same port, and keeps every message it took.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// One message the relay took.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt_tos: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
    pub content_types: Vec<String>,
    pub tls: bool,
}

impl Mail {
    pub fn to(&self) -> &str {
        self.rcpt_tos.first().map(String::as_str).unwrap_or_default()
    }
}

pub struct SmtpSink {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    tls: bool,
}

fn python() -> String {
    std::env::var("ROOTVAULT_TEST_PYTHON").expect(
        "ROOTVAULT_TEST_PYTHON is not set: run the suite with scripts/test, which installs aiosmtpd in its venv",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpSink {
    /// A plain relay (no TLS) on a free loopback port.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// A relay that offers STARTTLS and requires it, with a test CA.
    pub fn start_with_starttls() -> Self {
        Self::launch(true)
    }

    fn launch(tls: bool) -> Self {
        let mut sink = Self { child: None, port: free_port(), dir: tempfile::tempdir().unwrap(), tls };
        sink.resume();
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate the STARTTLS relay's certificate chains to.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// Stop accepting connections (the process is killed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same port, keeping the messages taken so far.
    pub fn resume(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut command = Command::new(python());
        command.arg(script).arg("--port").arg(self.port.to_string()).arg("--out").arg(self.dir.path().join("mail"));
        if self.tls {
            command.arg("--tls-dir").arg(self.dir.path().join("tls"));
        }
        // The port was free a moment ago, or was this sink's own; a restart
        // may find it in TIME_WAIT for a moment, so try a few times.
        for _ in 0..50 {
            let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
            if line.trim() == "ready" {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the SMTP sink did not start on port {}", self.port);
    }

    /// Every message taken so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("mail")) else { return Vec::new() };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|path| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                Mail {
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    subject: text("subject"),
                    text: text("text"),
                    html: text("html"),
                    raw: text("raw"),
                    content_types: v["content_types"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect(),
                    tls: v["tls"].as_bool().unwrap(),
                }
            })
            .collect()
    }

    /// Wait (bounded) until at least `count` messages arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(Instant::now() < deadline, "only {} of {count} messages arrived: {messages:#?}", messages.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
