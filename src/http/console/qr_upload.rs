//! An MFA seed deposited as the picture of its QR code: the image a
//! custodian saved when AWS showed the virtual MFA device's code, decoded
//! here, on the server, so the seed never passes through another tool.
//! Only PNG and JPEG, bounded in bytes and pixels; the decoded text must be
//! an `otpauth://` URI, which then goes through the same parser as a typed
//! one.

use std::io::Cursor;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use zeroize::Zeroizing;

use super::accounts::{Outcome, after_form, bad_account};
use super::signed::SignedIn;
use crate::app::App;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::AccountId;
use crate::error::Error;
use crate::vault::MfaInput;

/// The largest upload accepted (a QR code picture is a few KiB).
pub const MAX_UPLOAD_BYTES: usize = 512 * 1024;
/// The largest picture decoded, in pixels per side.
const MAX_SIDE: u32 = 4000;

fn unreadable() -> Error {
    Error::invalid("invalid_qr", "the picture is not a readable QR code of an MFA device (PNG or JPEG)")
}

/// The `otpauth://` URI a QR code picture holds.
pub fn decode_otpauth(bytes: &[u8]) -> Result<Zeroizing<String>, Error> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(64 * 1024 * 1024);
    let mut reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| unreadable())?;
    if !matches!(reader.format(), Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)) {
        return Err(unreadable());
    }
    reader.limits(limits);
    let picture = reader.decode().map_err(|_| unreadable())?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let text = prepared
        .detect_grids()
        .into_iter()
        .find_map(|grid| grid.decode().ok().map(|(_, content)| Zeroizing::new(content)))
        .ok_or_else(unreadable)?;
    if !text.starts_with("otpauth://") {
        return Err(Error::invalid("invalid_qr", "the QR code holds no otpauth:// URI"));
    }
    Ok(text)
}

/// `POST /accounts/{id}/halves/mfa/qr`: multipart with `csrf_token` and
/// `qr` (the picture).
pub async fn deposit(
    State(app): State<App>,
    who: SignedIn,
    Path(raw): Path<String>,
    parts: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let (mut token, mut picture) = (None, None);
    // Anything but a multipart form carries no token: refused below.
    if let Ok(mut parts) = parts {
        while let Ok(Some(field)) = parts.next_field().await {
            match field.name() {
                Some("csrf_token") => token = field.text().await.ok(),
                Some("qr") => picture = field.bytes().await.ok(),
                _ => {}
            }
        }
    }
    if let Err(refused) =
        super::check_csrf(&app, &who.http, &who.session, token.as_deref(), crate::audit::Action::AuthFail).await
    {
        return refused;
    }
    let seed = match picture {
        Some(bytes) if !bytes.is_empty() => {
            decode_otpauth(&bytes).and_then(|uri| MfaSeed::from_otpauth_uri(&uri).map_err(Error::from))
        }
        _ => Err(Error::invalid("invalid_qr", "choose the picture of the QR code to upload")),
    };
    let result = match seed {
        Ok(seed) => app.vault.deposit_mfa(who.caller(), &who.http, id.clone(), MfaInput::Seed(seed)).await,
        Err(e) => Err(e),
    };
    let outcome = match result {
        Ok(done) => {
            Outcome { notice: Some(format!("MFA seed stored as version {}.", done.version)), ..Outcome::default() }
        }
        Err(e) => Outcome { form: Some("deposit-mfa"), error: Some(e), ..Outcome::default() },
    };
    after_form(&app, &who, id, outcome).await
}
