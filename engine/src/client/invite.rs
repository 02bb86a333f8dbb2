//! The client's side of invitations, shared content and search (CSP-REFERENCE §2.2):
//! request builders shaped for the session's version.
//!
//! Builders are pure: they return the [`Primitive`] to send with
//! [`super::Command::Request`]. Invitations arrive as [`super::ClientEvent::ServerRequest`]
//! (`InviteUser-Request`, `Invite-Response`, `CancelInviteUser-Request`), already
//! acknowledged; answer one with [`answer`].

use crate::codec::common::{Recipient, ScreenName, Sender, UrlList, User};
use crate::codec::fundamental::{
    CancelInviteRequest, InviteRequest, InviteType, InviteUserResponse, SearchElement, SearchPair,
    SearchPairList, SearchRequest, SearchResponse, StopSearchRequest,
};
use crate::codec::presence_attrs::PresenceSubList;
use crate::codec::{Primitive, Version};

/// What an invitation offers, beyond its type.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    /// The group (GR).
    pub group_id: Option<String>,
    /// Presence attributes offered, as empty elements (PR; none = all).
    pub presence: Option<PresenceSubList>,
    /// Shared content (SC).
    pub urls: Vec<String>,
    /// Free text.
    pub note: Option<String>,
    /// Lifetime, seconds.
    pub validity: Option<u32>,
    /// How the inviter appears: `(screen name, group id)`.
    pub screen_name: Option<(String, String)>,
}

fn sname(n: &(String, String)) -> ScreenName {
    ScreenName {
        sname: Some(n.0.clone()),
        group_id: Some(n.1.clone()),
        ..Default::default()
    }
}

fn me_as_sender(me: &str) -> Sender {
    Sender {
        user: Some(User::id(me)),
        ..Default::default()
    }
}

/// `Invite-Request` `id` of `kind` from `me` to `recipient` (1.3 names the Sender).
pub fn invite(
    version: Version,
    me: &str,
    id: &str,
    kind: InviteType,
    recipient: Recipient,
    offer: Offer,
) -> Primitive {
    Primitive::InviteRequest(Box::new(InviteRequest {
        invite_id: Some(id.to_owned()),
        invite_type: Some(kind),
        sender: (version == Version::V1_3).then(|| me_as_sender(me)),
        recipient: Some(recipient),
        group_id: offer.group_id,
        presence_sub_list: offer.presence,
        url_list: (!offer.urls.is_empty()).then(|| UrlList {
            url: offer.urls,
            ..Default::default()
        }),
        invite_note: offer.note,
        screen_name: offer.screen_name.as_ref().map(sname),
        validity: offer.validity,
        ..Default::default()
    }))
}

/// A shared-content (`SC`) invitation: `urls` offered to `recipient` (users or groups).
pub fn share(
    version: Version,
    me: &str,
    id: &str,
    recipient: Recipient,
    urls: &[&str],
    note: Option<&str>,
) -> Primitive {
    invite(
        version,
        me,
        id,
        InviteType::SharedContent,
        recipient,
        Offer {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            note: note.map(str::to_owned),
            ..Default::default()
        },
    )
}

/// `InviteUser-Response`: `me` accepts or declines `invitation` (the received
/// InviteUser-Request), with an optional note and screen name (for group invitations).
pub fn answer(
    version: Version,
    me: &str,
    invitation: &InviteRequest,
    accept: bool,
    note: Option<&str>,
    screen_name: Option<(String, String)>,
) -> Primitive {
    let inviter = invitation
        .sender
        .as_ref()
        .and_then(|s| s.user.as_ref())
        .and_then(|u| u.user_id.clone());
    Primitive::InviteUserResponse(Box::new(InviteUserResponse {
        invite_id: invitation.invite_id.clone(),
        acceptance: Some(accept),
        sender: Some(me_as_sender(me)),
        recipient: if version == Version::V1_3 {
            inviter.map(|i| Recipient {
                user: vec![User::id(i)],
                ..Default::default()
            })
        } else {
            None
        },
        response_note: note.map(str::to_owned),
        screen_name: screen_name.as_ref().map(sname),
        ..Default::default()
    }))
}

/// `CancelInvite-Request` for invitation `id` (only for `recipient` when given).
pub fn cancel(
    version: Version,
    me: &str,
    id: &str,
    recipient: Option<Recipient>,
    note: Option<&str>,
) -> Primitive {
    Primitive::CancelInviteRequest(Box::new(CancelInviteRequest {
        invite_id: Some(id.to_owned()),
        sender: (version == Version::V1_3).then(|| me_as_sender(me)),
        recipient,
        invite_note: note.map(str::to_owned),
        ..Default::default()
    }))
}

/// A new `Search-Request`: every pair must match; at most `limit` results per page. 1.1
/// and 1.2 write one `SearchPairList` per pair, 1.3 one list of `SearchPair`s.
pub fn search(version: Version, pairs: &[(SearchElement, &str)], limit: u32) -> Primitive {
    let pair = |(e, v): &(SearchElement, &str)| SearchPair::new(e.clone(), *v);
    let search_pair_list = if version == Version::V1_3 {
        vec![SearchPairList {
            search_pair: pairs.iter().map(pair).collect(),
            ..Default::default()
        }]
    } else {
        pairs
            .iter()
            .map(|p| SearchPairList {
                direct: vec![pair(p)],
                ..Default::default()
            })
            .collect()
    };
    Primitive::SearchRequest(Box::new(SearchRequest {
        search_pair_list,
        search_limit: Some(limit),
        ..Default::default()
    }))
}

/// The request for the page after `answer`, or `None` when the search is complete.
pub fn next_page(answer: &SearchResponse) -> Option<Primitive> {
    if answer.completion_flag != Some(false) {
        return None;
    }
    let id = answer.search_id?;
    // The answer's SearchIndex is the last result given; the request names the next one.
    let next = answer.search_index?.checked_add(1)?;
    Some(Primitive::SearchRequest(Box::new(SearchRequest {
        search_id: Some(id),
        search_index: Some(next),
        ..Default::default()
    })))
}

/// `StopSearch-Request` for search `id`.
pub fn stop_search(id: u32) -> Primitive {
    Primitive::StopSearchRequest(Box::new(StopSearchRequest {
        search_id: Some(id),
        ..Default::default()
    }))
}
