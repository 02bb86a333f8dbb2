//! Presence attributes (CSP-REFERENCE §4): `PresenceSubList` and every attribute in it.
//!
//! Union of the 1.1, 1.2 and 1.3 models. Every attribute has an optional `Qualifier` (T/F).
//! In 1.3 the first nine attributes may occur once per client, each then carrying a
//! `ClientID`, so they are lists here; a ≤ 1.2 peer sends at most one of each.
//! `PresenceValue` is kept as text because its meaning depends on the attribute; the
//! attributes with a fixed vocabulary offer typed accessors. libwbxml's `PreferredContent` /
//! `PreferredvCard` spellings are accepted for `ReferredContent` / `ReferredvCard`.

use super::capability::{AcceptedContentType, ClientType};
use super::common::{ClientId, ContentEncoding};
use super::macros::{csp_enum, csp_struct};
use super::xml::TextValue;

csp_enum! {
    /// `UserAvailability` values.
    pub enum Availability {
        /// Available.
        Available = "AVAILABLE",
        /// Away.
        NotAvailable = "NOT_AVAILABLE",
        /// Do not disturb.
        Discreet = "DISCREET",
    }
}

csp_enum! {
    /// `StatusMood` values.
    pub enum Mood {
        /// Happy.
        Happy = "HAPPY",
        /// Sad.
        Sad = "SAD",
        /// Angry.
        Angry = "ANGRY",
        /// Anxious.
        Anxious = "ANXIOUS",
        /// Ashamed.
        Ashamed = "ASHAMED",
        /// Bored.
        Bored = "BORED",
        /// Excited.
        Excited = "EXCITED",
        /// In love.
        InLove = "IN_LOVE",
        /// Invincible.
        Invincible = "INVINCIBLE",
        /// Jealous.
        Jealous = "JEALOUS",
        /// Sleepy.
        Sleepy = "SLEEPY",
        /// Another mood.
        OtherMood = "OTHER",
    }
}

csp_enum! {
    /// Communication capabilities: `Cap` in `CommC`, `PrefC` in `AddrPref`.
    pub enum Cap {
        /// Voice call.
        Call = "CALL",
        /// SMS.
        Sms = "SMS",
        /// MMS.
        Mms = "MMS",
        /// Instant messaging.
        Im = "IM",
        /// E-mail.
        Email = "EMAIL",
        /// Audio call (1.1/1.2 value token).
        AudioCall = "AUDIO_CALL",
        /// Video call (1.1/1.2 value token).
        VideoCall = "VIDEO_CALL",
        /// Video stream (1.1/1.2 value token).
        VideoStream = "VIDEO_STREAM",
    }
}

csp_enum! {
    /// `Status` in `CommC` and `Cstatus` in `AddrPref`.
    pub enum CommStatus {
        /// The means is open.
        Open = "OPEN",
        /// The means is closed.
        Closed = "CLOSED",
    }
}

/// Declares a `(Qualifier?, PresenceValue?, ClientID?)` attribute.
macro_rules! value_attribute {
    ($(#[$meta:meta])* $name:ident) => {
        csp_struct! {
            $(#[$meta])*
            pub struct $name {
                /// T = valid, F = withdrawn.
                qualifier: Option<bool> = "Qualifier",
                /// The value (text; see the attribute's accessor).
                presence_value: Option<String> = "PresenceValue",
                /// 1.3: the client this instance describes.
                client_id: Option<ClientId> = "ClientID",
            }
        }

        impl $name {
            /// An instance with qualifier T and `value`.
            pub fn with_value(value: impl Into<String>) -> Self {
                $name {
                    qualifier: Some(true),
                    presence_value: Some(value.into()),
                    ..Default::default()
                }
            }
        }
    };
}

value_attribute! {
    /// `OnlineStatus (Qualifier?, PresenceValue?, ClientID? [1.3])`: T/F, logged in.
    OnlineStatus
}
value_attribute! {
    /// `Registration (Qualifier?, PresenceValue?, ClientID? [1.3])`: T/F, registered.
    Registration
}
value_attribute! {
    /// `FreeTextLocation (Qualifier?, PresenceValue?, ClientID? [1.3])`: free text.
    FreeTextLocation
}
value_attribute! {
    /// `PLMN (Qualifier?, PresenceValue?, ClientID? [1.3])`: operator network name.
    Plmn
}
value_attribute! {
    /// `UserAvailability (Qualifier?, PresenceValue?)`: see [`Availability`].
    UserAvailability
}
value_attribute! {
    /// `PreferredLanguage (Qualifier?, PresenceValue?)`: language code.
    PreferredLanguage
}
value_attribute! {
    /// `StatusText (Qualifier?, PresenceValue?)`: free text.
    StatusText
}
value_attribute! {
    /// `StatusMood (Qualifier?, PresenceValue?)`: see [`Mood`].
    StatusMood
}
value_attribute! {
    /// `Alias (Qualifier?, PresenceValue?)`: nickname.
    Alias
}

fn parse_value<T: TextValue>(v: Option<&str>) -> Option<T> {
    v.and_then(|t| T::parse_text(std::borrow::Cow::Borrowed(t)).ok())
}

impl OnlineStatus {
    /// The value as a boolean (`None` when absent or not T/F).
    pub fn value(&self) -> Option<bool> {
        parse_value(self.presence_value.as_deref())
    }
}

impl Registration {
    /// The value as a boolean (`None` when absent or not T/F).
    pub fn value(&self) -> Option<bool> {
        parse_value(self.presence_value.as_deref())
    }
}

impl UserAvailability {
    /// The value as an [`Availability`].
    pub fn value(&self) -> Option<Availability> {
        self.presence_value.as_deref().map(Availability::parse)
    }
}

impl StatusMood {
    /// The value as a [`Mood`].
    pub fn value(&self) -> Option<Mood> {
        self.presence_value.as_deref().map(Mood::parse)
    }
}

csp_struct! {
    /// 1.3 `ClientContentLimit (AcceptedContentType*, AnyContent?, AcceptedTextContentLength?, AcceptedTransferEncoding*, MaxPullLength?, MaxPushLength?, PlainTextCharset*)`.
    pub struct ClientContentLimit {
        /// Accepted content types.
        accepted_content_type: Vec<AcceptedContentType> = "AcceptedContentType",
        /// Accepts any content type.
        any_content: Option<bool> = "AnyContent",
        /// Text message limit.
        accepted_text_content_length: Option<u32> = "AcceptedTextContentLength",
        /// None / BASE64.
        accepted_transfer_encoding: Vec<ContentEncoding> = "AcceptedTransferEncoding",
        /// Pull limit.
        max_pull_length: Option<u32> = "MaxPullLength",
        /// Push limit.
        max_push_length: Option<u32> = "MaxPushLength",
        /// Plain text charsets (MIBenum).
        plain_text_charset: Vec<u32> = "PlainTextCharset",
    }
}

csp_struct! {
    /// `ClientInfo (Qualifier?, ClientContentLimit? [1.3], ClientType?, DevManufacturer?, ClientProducer?, Model?, ClientVersion?, Language?, ClientIMPriority? [1.3], ApplicationID? [1.3], ClientID? [1.3])`.
    pub struct ClientInfo {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// 1.3 content limits of this client.
        client_content_limit: Option<ClientContentLimit> = "ClientContentLimit",
        /// Kind of device.
        client_type: Option<ClientType> = "ClientType",
        /// Device maker.
        dev_manufacturer: Option<String> = "DevManufacturer",
        /// Client software maker.
        client_producer: Option<String> = "ClientProducer",
        /// Device model.
        model: Option<String> = "Model",
        /// Client software version.
        client_version: Option<String> = "ClientVersion",
        /// Language code.
        language: Option<String> = "Language",
        /// 1.3 IM priority of this client.
        client_im_priority: Option<u32> = "ClientIMPriority",
        /// 1.3 application.
        application_id: Option<String> = "ApplicationID",
        /// 1.3: the client this instance describes.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `TimeZone (Qualifier?, Zone?, ClientID? [1.3])`.
    pub struct TimeZone {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// UTC offset, e.g. `+02`.
        zone: Option<String> = "Zone",
        /// 1.3: the client this instance describes.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `GeoLocation (Qualifier?, Longitude?, Latitude?, Altitude?, Accuracy?, ClientID? [1.3])`.
    pub struct GeoLocation {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Longitude, e.g. `35 24 15.652W`.
        longitude: Option<String> = "Longitude",
        /// Latitude, e.g. `12 36 22.5N`.
        latitude: Option<String> = "Latitude",
        /// Altitude.
        altitude: Option<String> = "Altitude",
        /// Accuracy (unit not in the sources).
        accuracy: Option<String> = "Accuracy",
        /// 1.3: the client this instance describes.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `Address (Qualifier?, Country?, City?, Street?, Crossing1?, Crossing2?, Building?, NamedArea?, Accuracy?, ClientID? [1.3])`.
    pub struct Address {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Country code, e.g. `GB`.
        country: Option<String> = "Country",
        /// City.
        city: Option<String> = "City",
        /// Street.
        street: Option<String> = "Street",
        /// First crossing street.
        crossing1: Option<String> = "Crossing1",
        /// Second crossing street.
        crossing2: Option<String> = "Crossing2",
        /// Building.
        building: Option<String> = "Building",
        /// Named area.
        named_area: Option<String> = "NamedArea",
        /// Accuracy.
        accuracy: Option<String> = "Accuracy",
        /// 1.3: the client this instance describes (by analogy; Baraza omits it here).
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `CommC (Cap, Status, Contact?, Note?)`: one means of communication.
    pub struct CommC {
        /// The means.
        cap: Option<Cap> = "Cap",
        /// OPEN or CLOSED.
        status: Option<CommStatus> = "Status",
        /// Address or number.
        contact: Option<String> = "Contact",
        /// Free text.
        note: Option<String> = "Note",
    }
}

csp_struct! {
    /// `CommCap (Qualifier?, CommC*, ClientID? [1.3])`.
    pub struct CommCap {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// The means of communication.
        comm_c: Vec<CommC> = "CommC",
        /// 1.3: the client this instance describes.
        client_id: Option<ClientId> = "ClientID",
    }
}

csp_struct! {
    /// `AddrPref (PrefC, Caddr, Cstatus, Cname?, Cpriority?)`: one preferred contact.
    pub struct AddrPref {
        /// The means.
        pref_c: Option<Cap> = "PrefC",
        /// Address or number.
        caddr: Option<String> = "Caddr",
        /// OPEN or CLOSED.
        cstatus: Option<CommStatus> = "Cstatus",
        /// Name of the contact (1.1 Symbian spells `CName`).
        cname: Option<String> = "Cname" | "CName",
        /// Priority.
        cpriority: Option<u32> = "Cpriority",
    }
}

csp_struct! {
    /// `PreferredContacts (Qualifier?, AddrPref*)`.
    pub struct PreferredContacts {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Preferred contacts.
        addr_pref: Vec<AddrPref> = "AddrPref",
    }
}

csp_struct! {
    /// `StatusContent (Qualifier?, DirectContent?, ReferredContent?, ContentType?)`: an image
    /// or logo, inline (base64) or by URL. `PreferredContent` (libwbxml) is accepted.
    pub struct StatusContent {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Inline content.
        direct_content: Option<String> = "DirectContent",
        /// URL of the content.
        referred_content: Option<String> = "ReferredContent" | "PreferredContent",
        /// MIME type.
        content_type: Option<String> = "ContentType",
    }
}

csp_struct! {
    /// `ContactInfo (Qualifier?, ContainedvCard?, ReferredvCard?)`: a vCard inline or by URL.
    /// `PreferredvCard` (libwbxml) is accepted.
    pub struct ContactInfo {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Inline vCard.
        contained_vcard: Option<String> = "ContainedvCard",
        /// URL of the vCard.
        referred_vcard: Option<String> = "ReferredvCard" | "PreferredvCard",
    }
}

csp_struct! {
    /// 1.2 `Inf_link (Link, Text?, ContentType?)`.
    pub struct InfLink {
        /// The URL.
        link: Option<String> = "Link",
        /// Caption.
        text: Option<String> = "Text",
        /// MIME type of the target.
        content_type: Option<String> = "ContentType",
    }
}

csp_struct! {
    /// 1.2 `InfoLink (Qualifier?, Inf_link*)`.
    pub struct InfoLink {
        /// T = valid, F = withdrawn.
        qualifier: Option<bool> = "Qualifier",
        /// Links.
        inf_link: Vec<InfLink> = "Inf_link",
    }
}

csp_struct! {
    /// `PresenceSubList`: presence attributes, written with the version's PA namespace. In
    /// requests the attributes appear as empty elements that only name them.
    pub struct PresenceSubList [xmlns = Pa] {
        /// Logged in (one per client in 1.3).
        online_status: Vec<OnlineStatus> = "OnlineStatus",
        /// Registered (one per client in 1.3).
        registration: Vec<Registration> = "Registration",
        /// Client description (one per client in 1.3).
        client_info: Vec<ClientInfo> = "ClientInfo",
        /// Time zone (one per client in 1.3).
        time_zone: Vec<TimeZone> = "TimeZone",
        /// Geographic location (one per client in 1.3).
        geo_location: Vec<GeoLocation> = "GeoLocation",
        /// Postal location (one per client in 1.3).
        address: Vec<Address> = "Address",
        /// Location as text (one per client in 1.3).
        free_text_location: Vec<FreeTextLocation> = "FreeTextLocation",
        /// Operator network (one per client in 1.3).
        plmn: Vec<Plmn> = "PLMN",
        /// Means of communication (one per client in 1.3).
        comm_cap: Vec<CommCap> = "CommCap",
        /// Available / away / do not disturb.
        user_availability: Option<UserAvailability> = "UserAvailability",
        /// Preferred contacts.
        preferred_contacts: Option<PreferredContacts> = "PreferredContacts",
        /// Preferred language.
        preferred_language: Option<PreferredLanguage> = "PreferredLanguage",
        /// Status text.
        status_text: Option<StatusText> = "StatusText",
        /// Mood.
        status_mood: Option<StatusMood> = "StatusMood",
        /// Nickname.
        alias: Option<Alias> = "Alias",
        /// Status image.
        status_content: Option<StatusContent> = "StatusContent",
        /// vCard.
        contact_info: Option<ContactInfo> = "ContactInfo",
        /// 1.2 links.
        info_link: Option<InfoLink> = "InfoLink",
    }
}

impl PresenceSubList {
    /// The first `OnlineStatus` value (the only one before 1.3).
    pub fn online(&self) -> Option<bool> {
        self.online_status.first().and_then(OnlineStatus::value)
    }

    /// The `UserAvailability` value.
    pub fn availability(&self) -> Option<Availability> {
        self.user_availability.as_ref()?.value()
    }

    /// Whether no attribute is named at all (an empty list asks for every attribute).
    pub fn is_empty(&self) -> bool {
        *self == PresenceSubList::default()
    }
}
