"""A real SMTP server on 127.0.0.1 for the integration tests (aiosmtpd).

Usage: smtp_sink.py --port PORT --out DIR [--tls-dir DIR]

Accepts every message and writes it to DIR as NNNNN.json (envelope sender
and recipients, subject, plain-text and HTML parts, the raw message),
renamed into place once complete so a reader never sees half a file.
With --tls-dir it offers STARTTLS, and requires it before MAIL FROM, with
a certificate for 127.0.0.1 from a test CA it writes there (ca.pem is the
file the service is told to trust) unless they are there already.
Prints "ready" once it accepts connections; runs until killed.
"""

import argparse
import email
import email.policy
import json
import pathlib
import ssl
import threading
import time
import datetime
import ipaddress

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()
        self.count = len(list(out.glob("*.json")))

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "from": str(message["from"]),
            "to": str(message["to"]),
            "content_types": [part.get_content_type() for part in message.walk()],
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "raw": raw.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
        }
        with self.lock:
            self.count += 1
            name = f"{self.count:05d}.json"
            (self.out / f".{name}").write_text(json.dumps(record))
            (self.out / f".{name}").rename(self.out / name)
        return "250 Message accepted for delivery"


def test_pki(directory):
    """A CA (ca.pem, what the service trusts) and a certificate for
    127.0.0.1 it signed (cert.pem, key.pem), made once per directory."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert, key = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    if cert.exists():
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def builder(subject, issuer, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rootvault test CA")])
    ca = (
        builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    leaf = (
        builder(leaf_name, ca_name, leaf_key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert.write_bytes(leaf.public_bytes(pem))
    ca_file.write_bytes(ca.public_bytes(pem))
    return cert, key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--tls-dir", type=pathlib.Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    options = {}
    if args.tls_dir:
        cert, key = test_pki(args.tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options = {"tls_context": context, "require_starttls": True}
    controller = Controller(Sink(args.out), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
