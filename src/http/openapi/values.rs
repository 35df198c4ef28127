//! OpenAPI schemas of the domain's value types (ids, e-mail addresses,
//! enumerations and the few small value objects a body carries), written
//! here so that `src/domain` stays free of HTTP and documentation concerns.
//!
//! Enumerations take their variants from the domain's own list where it has
//! one (`ALL`), else through an exhaustive `match`, so a new variant does not
//! compile until it is documented; each variant's name comes from serde, so
//! a renamed one cannot drift from the wire.

use serde::Serialize;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::account::{AccountKind, AccountModel, Contacts, CustodyMode, Email, KeyOverrides};
use crate::domain::breakglass::{PartyName, State};
use crate::domain::ids::{AccountId, Half, OrgName, Principal};
use crate::domain::links::{LinkState, Purpose};
use crate::domain::moves::MoveState;
use crate::domain::onboarding::{OnboardingItem, OnboardingState};
use crate::domain::reverse::{ChecklistItem, HandoffKind, ItemStatus, RaState, Signatory};

/// A string schema whose values are the serde names of `variants`.
fn names_of<T: Serialize>(variants: &[T], description: &str) -> RefOr<Schema> {
    let names: Vec<serde_json::Value> = variants.iter().filter_map(|v| serde_json::to_value(v).ok()).collect();
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).description(Some(description)).into()
}

/// Document a field-less enum: `$ty` with exactly `$variant`s.
macro_rules! enum_schema {
    ($ty:ident, $description:literal, [$($variant:ident),+ $(,)?]) => {
        enum_schema!($ty as stringify!($ty), $description, [$($variant),+]);
    };
    ($ty:ident as $name:expr, $description:literal, [$($variant:ident),+ $(,)?]) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                // Fails to compile when a variant is added and not listed.
                let _exhaustive = |v: $ty| match v {
                    $($ty::$variant)|+ => (),
                };
                names_of(&[$($ty::$variant),+], $description)
            }
        }
        impl ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
    // An enumeration that lists its own variants.
    ($ty:ident, $description:literal, all = $all:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                names_of(&$all, $description)
            }
        }
        impl ToSchema for $ty {}
    };
}

enum_schema!(AccountKind, "An AWS management (payer) account or a member account.", [Payer, Member]);
enum_schema!(AccountModel, "SPAM (the provider owns member-account root) or ECAM (the customer does).", [Spam, Ecam]);
enum_schema!(CustodyMode, "Who holds each half (DESIGN §2).", [ProviderSplit, CoOwned, SharedPayer, CustomerOwned]);
enum_schema!(Half, "One of the two separately encrypted halves of a root credential.", [Password, Mfa]);
enum_schema!(State as "RequestState", "A break-glass request's state.", [
    Pending,
    Approved,
    Denied,
    Cancelled,
    Expired,
    Closed,
]);
enum_schema!(PartyName, "The side of the account a decision came from.", [Provider, Customer]);
enum_schema!(Purpose, "`deliver` hands a secret out; `collect` takes one in.", [Deliver, Collect]);
enum_schema!(
    LinkState,
    "A one-time link's state, as its read receipt shows it.",
    [Pending, Opened, Expired, Revoked, Burned]
);
enum_schema!(MoveState, "A DDI move's state.", [Requested, Confirmed, Completed, Cancelled]);
enum_schema!(OnboardingState, "An account's onboarding state.", [NotStarted, InProgress, Completed]);
enum_schema!(OnboardingItem, "An item of the onboarding checklist.", all = OnboardingItem::ALL);
enum_schema!(
    RaState,
    "A reverse assumption's state (DESIGN §9).",
    [Requested, Scheduled, BalanceConfirmed, HandedOff, Completed, Cancelled]
);
enum_schema!(ChecklistItem, "An item of the reverse-assumption checklist.", all = ChecklistItem::ALL);
enum_schema!(ItemStatus, "How a checklist item was settled.", [Done, NotApplicable]);
enum_schema!(
    HandoffKind,
    "A deliver link (the service hands the password over) or a collect link (the customer sets it).",
    [Deliver, Collect]
);

/// A string schema with a pattern, an example and a description.
fn string(pattern: Option<&str>, example: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(pattern).examples([example]).description(Some(description))
}

impl PartialSchema for AccountId {
    fn schema() -> RefOr<Schema> {
        string(Some("^[0-9]{12}$"), "100000000001", "A 12-digit AWS account id.").into()
    }
}
impl ToSchema for AccountId {}

impl PartialSchema for OrgName {
    fn schema() -> RefOr<Schema> {
        string(Some("^[a-z0-9][a-z0-9-]{0,62}$"), "globex", "An organisation's name.").into()
    }
}
impl ToSchema for OrgName {}

impl PartialSchema for Principal {
    fn schema() -> RefOr<Schema> {
        string(
            Some("^[a-z0-9][a-z0-9-]{0,62}/[^/\\s]{1,128}$"),
            "acme/alice",
            "A person, written `org/sub`: the org whose issuer vouched for them and their subject there.",
        )
        .into()
    }
}
impl ToSchema for Principal {}

impl PartialSchema for Email {
    fn schema() -> RefOr<Schema> {
        string(None, "root@example.com", "An e-mail address (at most 254 characters, `local@domain.tld`).")
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254))
            .into()
    }
}
impl ToSchema for Email {}

/// An object of optional e-mail addresses named `fields`.
fn emails(fields: &[&str], description: &str) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(description));
    let email = || {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254))
    };
    for field in fields {
        object = object.property(*field, email());
    }
    object.into()
}

impl PartialSchema for Contacts {
    fn schema() -> RefOr<Schema> {
        emails(&["billing", "operations", "security"], "The account's alternate contacts.")
    }
}
impl ToSchema for Contacts {}

impl PartialSchema for KeyOverrides {
    fn schema() -> RefOr<Schema> {
        let key = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(2048))
                .description(Some("A KMS key id, ARN or alias of the half's own key."))
        };
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property("password", key())
            .property("mfa", key())
            .description(Some("Per-account KMS keys, per half (`aws-kms` only)."))
            .into()
    }
}
impl ToSchema for KeyOverrides {}

impl PartialSchema for Signatory {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property("name", ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)))
            .property("email", Email::schema())
            .required("name")
            .required("email")
            .description(Some("The customer's authorised signatory."))
            .into()
    }
}
impl ToSchema for Signatory {}
