//! E-mail through the configured SMTP relay (lettre): STARTTLS on
//! `smtp://`, TLS from the first byte on `smtps://`, plain only when the
//! configuration says `danger_allow_plaintext`.
//!
//! Errors are reduced to what an admin can act on (unreachable, TLS,
//! authentication, the relay's reply code); the relay's free text is not
//! kept, and neither the password nor the message body ever is.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Message;
use super::worker::Attempt;
use crate::config::{EmailSettings, SmtpTls};

/// A connection pool to the relay and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.email.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// Prepare the relay's transport; nothing connects until the first send.
    pub fn new(settings: &EmailSettings, timeout: Duration) -> Result<Self, String> {
        let from: Mailbox = settings.from.parse().map_err(|_| "notify.email.from is not an address".to_owned())?;
        let tls = match settings.tls {
            SmtpTls::DangerPlaintext => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(settings)?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters(settings)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self { transport: builder.build(), from })
    }

    /// Send `message` to `to` as plain text and HTML alternatives.
    pub async fn send(&self, to: &str, message: &Message) -> Attempt {
        let Ok(to) = to.parse::<Mailbox>() else {
            return Attempt::GiveUp("the recipient is not an e-mail address".into());
        };
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(message.text(), message.html()));
        let email = match email {
            Ok(email) => email,
            Err(_) => return Attempt::GiveUp("the message could not be built".into()),
        };
        match self.transport.send(email).await {
            Ok(_) => Attempt::Delivered,
            Err(e) => classify(&e),
        }
    }
}

fn tls_parameters(settings: &EmailSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("notify.email.ca_file cannot be read: {e}"))?;
        let certificate =
            Certificate::from_pem(&pem).map_err(|_| "notify.email.ca_file holds no PEM certificate".to_owned())?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|_| "the relay's TLS settings are unusable".to_owned())
}

/// What a failed send tells the admin, and whether trying again can help.
fn classify(e: &lettre::transport::smtp::Error) -> Attempt {
    if let Some(code) = e.status() {
        let reply = format!("the relay answered {code}");
        return if e.is_permanent() { Attempt::GiveUp(reply) } else { Attempt::Retry(reply) };
    }
    let reason = if e.is_timeout() {
        "the relay timed out"
    } else if e.is_tls() {
        "TLS with the relay failed"
    } else if e.is_client() {
        "the relay's session was refused (authentication or protocol)"
    } else {
        "the relay is unreachable"
    };
    Attempt::Retry(reason.into())
}
