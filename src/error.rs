//! The service's one error type.
//!
//! Every refusal and failure a request can meet is a variant here, with a
//! stable snake_case code. `crate::http::error` maps variants to status codes
//! in one place. Messages are written for the person at the other end and
//! never contain a secret; internal details (`Internal`, `Unavailable`) are
//! logged and replaced by a fixed sentence in responses.

use crate::audit::Outcome;
use crate::crypto::CryptoError;
use crate::crypto::totp::MfaError;
use crate::domain::account::AccountError;
use crate::domain::breakglass::RequestError;
use crate::domain::closure::ClosureError;
use crate::domain::consent::ConsentError;
use crate::domain::custody::CustodyError;
use crate::domain::ids::IdError;
use crate::domain::moves::MoveError;
use crate::domain::onboarding::OnboardingError;
use crate::domain::password_policy::PolicyViolation;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request could not be read (bad JSON, bad id in the path).
    #[error("{message}")]
    Malformed { code: &'static str, message: String },
    /// 401: no token, or a token that failed verification. The precise
    /// reason goes to the audit log, not to the caller.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 401: a release needs a more recent sign-in (step-up, DESIGN §13).
    #[error("this needs a recent sign-in: sign in again and retry")]
    ReauthenticationRequired,
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: unknown, or not visible to the caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with the current state or a custody rule.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 410: what was asked for is gone for good (a closed window, used views).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 429: too many requests from this client or for this link.
    #[error("too many requests; wait a minute and try again")]
    RateLimited,
    /// 413: the body is over the size limit.
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// 415: the body is not JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 422: a value is well-formed but not acceptable.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// 503: the key provider is sealed.
    #[error("the vault is sealed")]
    Sealed,
    /// 503: the stored audit log was found altered; only auditors may read it.
    #[error("the audit log failed its integrity check; the service refuses changes until it is investigated")]
    AuditTampered,
    /// 503: the audit record could not be committed, so nothing happened.
    #[error("the audit log is unavailable; nothing was changed")]
    AuditUnavailable,
    /// 503: a dependency (KMS) failed; details are logged.
    #[error("a dependency is unavailable")]
    Unavailable(String),
    /// 503: in a cluster (DESIGN §17), no node holds the lease right now, or
    /// this node lost it while the request was under way; a retry a moment
    /// later reaches the new active node.
    #[error("no node of the cluster is active right now; retry in a moment")]
    NoActiveNode,
    /// 500: a bug or a storage failure; details are logged.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { code, message: message.into() }
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { code, message: message.into() }
    }

    pub fn gone(code: &'static str, message: impl Into<String>) -> Self {
        Error::Gone { code, message: message.into() }
    }

    pub fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Error::Malformed { code, message: message.into() }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Gone { code, .. }
            | Error::Invalid { code, .. } => code,
            Error::Unauthenticated => "unauthenticated",
            Error::ReauthenticationRequired => "reauthentication_required",
            Error::NotFound(_) => "not_found",
            Error::PayloadTooLarge => "payload_too_large",
            Error::RateLimited => "rate_limited",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::Sealed => "sealed",
            Error::AuditUnavailable => "audit_unavailable",
            Error::AuditTampered => "audit_log_tampered",
            Error::Unavailable(_) => "unavailable",
            Error::NoActiveNode => "no_active_node",
            Error::Internal(_) => "internal_error",
        }
    }

    /// How an audit event records this error: a rule said no, or we failed.
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::AuditUnavailable | Error::Unavailable(_) | Error::NoActiveNode | Error::Internal(_) => {
                Outcome::Error
            }
            _ => Outcome::Denied,
        }
    }
}

impl From<StoreError> for Error {
    /// A write that could not be committed changed nothing and recorded
    /// nothing: that is the audit log being unavailable (invariant 4).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CommitFailed | StoreError::WriterGone => Error::AuditUnavailable,
            StoreError::LogKeyMissing => Error::Sealed,
            StoreError::LogTampered => Error::AuditTampered,
            StoreError::NotActive => Error::NoActiveNode,
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<IdError> for Error {
    fn from(e: IdError) -> Self {
        Error::malformed("invalid_id", e.to_string())
    }
}

impl From<AccountError> for Error {
    fn from(e: AccountError) -> Self {
        Error::invalid("invalid_account", e.to_string())
    }
}

impl From<PolicyViolation> for Error {
    fn from(e: PolicyViolation) -> Self {
        Error::invalid("password_policy", e.to_string())
    }
}

impl From<MfaError> for Error {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::Payload => Error::Internal(e.to_string()),
            _ => Error::invalid("invalid_mfa", e.to_string()),
        }
    }
}

impl From<CustodyError> for Error {
    fn from(e: CustodyError) -> Self {
        let message = e.to_string();
        match e {
            CustodyError::NothingStored(_) => Error::conflict("nothing_in_custody", message),
            CustodyError::NotHoldingParty { .. } => Error::forbidden("not_half_holder", message),
            CustodyError::ForeignPrincipal { .. } => Error::invalid("foreign_principal", message),
            CustodyError::SelfAssignment => Error::forbidden("self_assignment", message),
            CustodyError::TooMany => Error::invalid("too_many_custodians", message),
            CustodyError::BothHalves { .. } | CustodyError::Walled { .. } | CustodyError::KnownToOtherHalf { .. } => {
                Error::conflict("four_eyes_violation", message)
            }
            CustodyError::NotCollector(_) => Error::forbidden("forbidden", message),
            CustodyError::NotCustodian(_) => Error::forbidden("not_custodian", message),
        }
    }
}

impl From<RequestError> for Error {
    /// One exhaustive match: a new rule must choose its status here.
    fn from(e: RequestError) -> Self {
        use RequestError as R;
        let message = e.to_string();
        let (make, code): (fn(&'static str, String) -> Error, &'static str) = match e {
            R::NotStaff | R::NotApprover => (Error::forbidden, "forbidden"),
            R::ProviderDecides => (Error::forbidden, "provider_approval_required"),
            R::NotRequester => (Error::forbidden, "not_requester"),
            R::NotRecipient(_) => (Error::forbidden, "not_recipient"),
            R::Reason | R::Ticket | R::NoRecipient | R::SameRecipient | R::Window => {
                (Error::invalid, "invalid_request")
            }
            R::RecipientNotCustodian { .. } => (Error::invalid, "recipient_not_custodian"),
            R::Walled { .. } => (Error::conflict, "four_eyes_violation"),
            R::NothingStored => (Error::conflict, "nothing_in_custody"),
            R::SelfApproval => (Error::conflict, "self_approval"),
            R::RecipientApproval => (Error::conflict, "recipient_approval"),
            R::AlreadyDecided => (Error::conflict, "already_decided"),
            R::OtherPartyRequired(_) => (Error::conflict, "other_party_approval_required"),
            R::NotPending(_) => (Error::conflict, "request_not_pending"),
            R::NotApproved(_) => (Error::conflict, "request_not_approved"),
            R::WindowClosed => (Error::gone, "window_closed"),
            R::NoViewsLeft => (Error::gone, "no_views_left"),
        };
        make(code, message)
    }
}

impl From<OnboardingError> for Error {
    fn from(e: OnboardingError) -> Self {
        use OnboardingError as O;
        let message = e.to_string();
        match e {
            O::NothingInCustody => Error::conflict("nothing_in_custody", message),
            O::SignatoryName | O::LegalName | O::LegalAddress => Error::invalid("invalid_onboarding", message),
            O::UnknownItem => Error::invalid("invalid_checklist_item", message),
            O::AlreadyStarted | O::AlreadyOnboarded | O::ServiceItem(_) | O::Incomplete(_) => {
                Error::conflict("onboarding_rule", message)
            }
        }
    }
}

impl From<MoveError> for Error {
    fn from(e: MoveError) -> Self {
        use MoveError as M;
        let message = e.to_string();
        match e {
            M::SameCustomer(_) => Error::invalid("same_customer", message),
            M::UnknownCustomer => Error::invalid("unknown_customer", message),
            M::InPast { .. }
            | M::TooSoon { .. }
            | M::OutsideWindow { .. }
            | M::WrongState { .. }
            | M::Closed(_)
            | M::NotYet(_) => Error::conflict("move_rule", message),
        }
    }
}

impl From<ClosureError> for Error {
    fn from(e: ClosureError) -> Self {
        let message = e.to_string();
        match e {
            ClosureError::NotClosed(_) => Error::conflict("account_not_closed", message),
            ClosureError::TooLate => Error::conflict("reopen_window_passed", message),
        }
    }
}

impl From<ConsentError> for Error {
    fn from(e: ConsentError) -> Self {
        let message = e.to_string();
        match e {
            ConsentError::AlreadyMarked(_) => Error::conflict("consent_already_marked", message),
            ConsentError::Missing(_) => Error::conflict("consent_required", message),
            ConsentError::NotRequired => Error::conflict("consent_not_required", message),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        let message = e.to_string();
        match e {
            CryptoError::Sealed => Error::Sealed,
            CryptoError::InvalidShare => Error::invalid("invalid_share", message),
            CryptoError::WrongShares => Error::invalid("unseal_failed", message),
            CryptoError::DuplicateShare => Error::conflict("duplicate_share", message),
            CryptoError::AlreadyUnsealed => Error::conflict("already_unsealed", message),
            CryptoError::NotSealable => Error::conflict("not_sealable", message),
            CryptoError::OverridesUnsupported => Error::invalid("key_override_unsupported", message),
            CryptoError::Provider(_) => Error::Unavailable(message),
            CryptoError::Decrypt | CryptoError::Keyring(_) => Error::Internal(message),
        }
    }
}
