//! Session and access features (CSP-REFERENCE §1.4, §1.5, §2.1, §2.7, §2.8): login (2-way
//! and 4-way digest), logout, keep-alive, polling and acknowledgements, service provider
//! info, client capability and service negotiation, version discovery.

use std::borrow::Cow;

use crate::address::{Address, AddressError};
use crate::codec::access::{
    ClientCapabilityRequest, ClientCapabilityResponse, DigestSchema, Disconnect, GetSpInfoResponse,
    KeepAliveRequest, KeepAliveResponse, LoginRequest, LoginResponse, ServiceRequest,
    ServiceResponse, VersionDiscoveryResponse, VersionList,
};
use crate::codec::capability::{
    AgreedCapabilityList, Bearer, CapabilityList, CirMethod, CirUrl, DeliveryMethod,
};
use crate::codec::common::{ClientId, Status};
use crate::codec::service::{self, Functions};
use crate::codec::{
    Ns, Primitive, Transaction, TransactionContent, TransactionDescriptor, TransactionMode, Version,
};

use super::session::{Agreed, Session};
use super::{
    Challenge, Event, IMPLEMENTED_FUNCTIONS, Output, Server, auth, authorization, block_list,
    contact_list, group, im, invite, presence, result, search,
};

/// What a request being processed has produced so far.
pub(crate) struct Ctx<'a> {
    pub conn: u64,
    pub version: Version,
    pub reply_type: &'static str,
    pub session_id: Option<String>,
    pub handle: Option<u64>,
    /// The peer's address (for login throttling), borrowed from the request.
    pub peer: Option<&'a str>,
    pub responses: Vec<Transaction>,
    /// Deliver queued server-initiated transactions in this reply (poll, acknowledgement).
    pub deliver_queue: bool,
    /// Also deliver again those already delivered and not yet acknowledged (a poll does; an
    /// acknowledgement's reply only brings what the client has not seen).
    pub redeliver: bool,
    /// The session a login in this request created (its reply's Poll flag tells the client
    /// that something already waits).
    pub created: Option<u64>,
    /// Echo the SessionID though the session is gone (logout, 600/601).
    pub ended_code: Option<u16>,
}

impl Ctx<'_> {
    fn respond(&mut self, tid: Option<String>, p: Primitive) {
        self.responses.push(Transaction {
            descriptor: Some(TransactionDescriptor {
                mode: Some(TransactionMode::Response),
                transaction_id: tid,
                ..Default::default()
            }),
            content: Some(TransactionContent::new(p)),
            ..Default::default()
        });
    }

    fn status(&mut self, tid: Option<String>, code: u16, text: &str) {
        self.respond(tid, Primitive::Status(Box::new(Status::new(code, text))));
    }
}

/// How a primitive relates to service negotiation.
enum Gate {
    /// Part of the session itself; always allowed.
    Access,
    /// Needs this function code to be agreed.
    Code(&'static str),
    /// Only a server sends it.
    ServerOnly,
}

/// The service code guarding each client primitive (CSP-REFERENCE §2, column "svc").
fn gate(name: &str) -> Gate {
    match name {
        "Login-Request"
        | "Logout-Request"
        | "KeepAlive-Request"
        | "Polling-Request"
        | "Service-Request"
        | "ClientCapability-Request"
        | "WV-CSP-VersionDiscovery-Request"
        | "Status"
        | "MessageDelivered" => Gate::Access,
        // 1.3 profiles have no service code: they come with the 1.3 session (other versions
        // are refused below).
        "GetPublicProfile-Request" | "UpdatePublicProfile-Request" => Gate::Access,
        "GetSPInfo-Request" => Gate::Code("GETSPI"),
        "Search-Request" => Gate::Code("SRCH"),
        "StopSearch-Request" => Gate::Code("STSRC"),
        "Invite-Request" | "InviteUser-Response" => Gate::Code("INVIT"),
        "CancelInvite-Request" => Gate::Code("CAINV"),
        "VerifyID-Request" => Gate::Code("VRID"),
        "GetList-Request" => Gate::Code("GCLI"),
        "CreateList-Request" => Gate::Code("CCLI"),
        "DeleteList-Request" => Gate::Code("DCLI"),
        "ListManage-Request" => Gate::Code("MCLS"),
        "GetWatcherList-Request" => Gate::Code("GETWL"),
        "PresenceAuth-User" => Gate::Code("REACT"),
        "CancelAuth-Request" => Gate::Code("CAAUT"),
        "GetReactiveAuthStatus-Request" => Gate::Code("GETAUT"),
        "SubscribePresence-Request" | "UnsubscribePresence-Request" | "GetPresence-Request" => {
            Gate::Code("GETPR")
        }
        "UpdatePresence-Request" => Gate::Code("UPDPR"),
        "CreateAttributeList-Request" => Gate::Code("CALI"),
        "DeleteAttributeList-Request" => Gate::Code("DALI"),
        "GetAttributeList-Request" => Gate::Code("GALS"),
        "SendMessage-Request" => Gate::Code("MDELIV"),
        "ForwardMessage-Request" => Gate::Code("FWMSG"),
        "SetDeliveryMethod-Request" => Gate::Code("SETD"),
        "GetMessageList-Request" => Gate::Code("GETLM"),
        "GetMessage-Request" => Gate::Code("GETM"),
        "RejectMessage-Request" => Gate::Code("REJCM"),
        "GetBlockedList-Request" => Gate::Code("GLBLU"),
        "BlockEntity-Request" => Gate::Code("BLENT"),
        "CreateGroup-Request" => Gate::Code("CREAG"),
        "DeleteGroup-Request" => Gate::Code("DELGR"),
        "GetGroupProps-Request" => Gate::Code("GETGP"),
        "SetGroupProps-Request" => Gate::Code("SETGP"),
        "SubscribeGroupNotice-Request" => Gate::Code("SUBGCN"),
        "JoinGroup-Request" | "LeaveGroup-Request" => Gate::Code("GRCHN"),
        "GetGroupMembers-Request" => Gate::Code("GETGM"),
        "AddGroupMembers-Request" => Gate::Code("ADDGM"),
        "RemoveGroupMembers-Request" => Gate::Code("RMVGM"),
        "MemberAccess-Request" => Gate::Code("MBRAC"),
        "RejectList-Request" => Gate::Code("REJEC"),
        "GetJoinedUsers-Request" => Gate::Code("GETJU"),
        "GetMap-Request" => Gate::Code("GETMAP"),
        "GetSegment-Request" | "DropSegment-Request" => Gate::Code("SGMNT"),
        "ExtendConversation-Request" => Gate::Code("EXCON"),
        "SubscribeNotification-Request" | "UnsubscribeNotification-Request" => {
            Gate::Code("OFFNOTIF")
        }
        "Login-Response"
        | "Disconnect"
        | "KeepAlive-Response"
        | "GetSPInfo-Response"
        | "Service-Response"
        | "ClientCapability-Response"
        | "WV-CSP-VersionDiscovery-Response"
        | "NewMessage"
        | "MessageNotification"
        | "DeliveryReport-Request"
        | "PresenceNotification-Request"
        | "PresenceAuth-Request"
        | "InviteUser-Request"
        | "Invite-Response"
        | "CancelInviteUser-Request"
        | "GroupChangeNotice"
        | "Notification-Request"
        | "SystemMessage-Request" => Gate::ServerOnly,
        // Everything else (1.3 profile and system-message primitives, vendor requests) has no
        // service code of its own; it is refused as not agreed until a feature implements it.
        _ => Gate::Code("-"),
    }
}

/// Processes one transaction of a request.
pub(crate) fn transaction(s: &mut Server, ctx: &mut Ctx, t: Transaction) {
    let (mode, tid) = match t.descriptor {
        Some(d) => (d.mode, d.transaction_id),
        None => (None, None),
    };
    let Some(primitive) = t.content.and_then(|c| c.primitives.into_iter().next()) else {
        ctx.status(tid, 400, "TransactionContent holds no primitive");
        return;
    };
    let name: Cow<'static, str> = match primitive.known_name() {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(primitive.name().to_owned()),
    };

    // Client acknowledgements of server-initiated transactions (CSP-REFERENCE §1.4).
    if mode == Some(TransactionMode::Response) && (name == "Status" || name == "MessageDelivered") {
        let Some(h) = session_of(s, ctx, &tid) else {
            return;
        };
        let queued = tid
            .as_deref()
            .and_then(|id| s.sessions.get_mut(&h)?.acknowledge(id));
        // A repeated acknowledgement (the transaction was delivered twice) is no error.
        let repeated = queued.is_none()
            && tid.as_deref().is_some_and(|id| {
                s.sessions
                    .get(&h)
                    .is_some_and(|sess| sess.recently_acknowledged(id))
            });
        s.touch(h);
        if let Some(q) = &queued {
            im::acknowledged(s, h, q);
        }
        if queued.is_some() || repeated {
            ctx.deliver_queue = true;
        } else {
            ctx.status(
                tid,
                420,
                "no server transaction with this TransactionID is waiting",
            );
        }
        return;
    }

    // Requests that need no session.
    let primitive = match primitive {
        Primitive::LoginRequest(req) => return login(s, ctx, tid, *req),
        Primitive::VersionDiscoveryRequest(_) => {
            ctx.respond(
                tid,
                Primitive::VersionDiscoveryResponse(Box::new(version_discovery())),
            );
            return;
        }
        Primitive::GetSpInfoRequest(req) if ctx.handle.is_none() => {
            ctx.respond(
                tid,
                Primitive::GetSpInfoResponse(Box::new(sp_info(s, req.client_id))),
            );
            return;
        }
        Primitive::Unknown(_) => {
            ctx.status(tid, 501, &format!("unknown primitive {name}"));
            return;
        }
        other => other,
    };

    let code = match gate(&name) {
        Gate::ServerOnly => {
            ctx.status(tid, 400, &format!("{name} is sent by servers, not clients"));
            return;
        }
        Gate::Code(c) => Some(c),
        Gate::Access => None,
    };
    let Some(h) = session_of(s, ctx, &tid) else {
        return;
    };
    s.touch(h);
    if let Some(code) = code {
        let sess = s.sessions.get(&h);
        // 1.3 keeps the attribute-list primitives but has no service code for them
        // (CSP-REFERENCE §2.7): they come with the presence feature itself.
        let codeless = matches!(code, "CALI" | "DALI" | "GALS")
            && sess.is_some_and(|x| x.version == Version::V1_3);
        let agreed = codeless
            || sess
                .and_then(|sess| sess.services.as_ref())
                .is_some_and(|codes| codes.contains(&code));
        if !agreed {
            ctx.status(tid, 506, &format!("service not agreed: {name}"));
            return;
        }
    }

    match primitive {
        Primitive::PollingRequest(_) => {
            ctx.deliver_queue = true;
            ctx.redeliver = true;
        }
        Primitive::KeepAliveRequest(req) => keep_alive(s, ctx, h, tid, *req),
        Primitive::LogoutRequest(_) => {
            s.end_session(h, 200);
            ctx.ended_code = Some(200);
            // The logout transaction is Logout-Request → Disconnect in every version (as the
            // issue asks and IV does); Baraza's Status for 1.2/1.3 is accepted by our client.
            ctx.respond(
                tid,
                Primitive::Disconnect(Box::new(Disconnect {
                    result: Some(result(200, "logged out")),
                    ..Default::default()
                })),
            );
        }
        Primitive::ClientCapabilityRequest(req) => client_capability(s, ctx, h, tid, *req),
        Primitive::ServiceRequest(req) => service(s, ctx, h, tid, *req),
        Primitive::GetSpInfoRequest(req) => {
            ctx.respond(
                tid,
                Primitive::GetSpInfoResponse(Box::new(sp_info(s, req.client_id))),
            );
        }
        Primitive::GetListRequest(_) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, contact_list::get_list(s, &user, version));
        }
        Primitive::CreateListRequest(req) => {
            let (user, version) = owner(s, h);
            let answer = contact_list::create_list(s, &user, version, &req);
            ctx.respond(tid, answer);
        }
        Primitive::DeleteListRequest(req) => {
            let (user, _) = owner(s, h);
            let answer = contact_list::delete_list(s, &user, &req);
            ctx.respond(tid, answer);
        }
        Primitive::ListManageRequest(req) => {
            let (user, version) = owner(s, h);
            let answer = contact_list::list_manage(s, &user, version, &req);
            ctx.respond(tid, answer);
        }
        Primitive::SubscribePresenceRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, presence::subscribe(s, &user, &req));
        }
        Primitive::UnsubscribePresenceRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, presence::unsubscribe(s, &user, &req));
        }
        Primitive::GetPresenceRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, presence::get_presence(s, &user, version, &req));
        }
        Primitive::UpdatePresenceRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, presence::update_presence(s, &user, &req));
        }
        Primitive::GetWatcherListRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, presence::watcher_list(s, &user, version, &req));
        }
        Primitive::CreateAttributeListRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, authorization::create_attribute_list(s, &user, &req));
        }
        Primitive::DeleteAttributeListRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, authorization::delete_attribute_list(s, &user, &req));
        }
        Primitive::GetAttributeListRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(
                tid,
                authorization::get_attribute_list(s, &user, version, &req),
            );
        }
        Primitive::PresenceAuthUser(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, authorization::presence_auth_user(s, &user, &req));
        }
        Primitive::CancelAuthRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, authorization::cancel_auth(s, &user, &req));
        }
        Primitive::GetReactiveAuthStatusRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, authorization::reactive_status(s, &user, &req));
        }
        Primitive::SendMessageRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, im::send_message(s, &user, *req));
        }
        Primitive::GetMessageRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, im::get_message(s, &user, &req));
        }
        Primitive::MessageDelivered(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, im::message_delivered(s, &user, &req));
        }
        Primitive::RejectMessageRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, im::reject(s, &user, version, &req));
        }
        Primitive::GetMessageListRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, im::get_message_list(s, &user, version, &req));
        }
        Primitive::SetDeliveryMethodRequest(req) => {
            ctx.respond(tid, im::set_delivery_method(s, h, &req));
        }
        Primitive::ForwardMessageRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, im::forward(s, &user, version, &req));
        }
        Primitive::GetBlockedListRequest(_) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, block_list::get_blocked_list(s, &user, version));
        }
        Primitive::BlockEntityRequest(req) => {
            let (user, version) = owner(s, h);
            let (answer, changed) = block_list::block_entity(s, &user, version, &req);
            if changed {
                // Blocking hides presence at once; unblocking shows what is authorized.
                presence::reauthorize(s, &user, None);
            }
            ctx.respond(tid, answer);
        }
        Primitive::CreateGroupRequest(req) => {
            ctx.respond(tid, group::create_group(s, h, &req));
        }
        Primitive::DeleteGroupRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::delete_group(s, &user, &req));
        }
        Primitive::GetGroupPropsRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, group::get_group_props(s, &user, version, &req));
        }
        Primitive::SetGroupPropsRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::set_group_props(s, &user, &req));
        }
        Primitive::JoinGroupRequest(req) => {
            ctx.respond(tid, group::join_group(s, h, &req));
        }
        Primitive::LeaveGroupRequest(req) => {
            ctx.respond(tid, group::leave_group(s, h, &req));
        }
        Primitive::GetGroupMembersRequest(req) => {
            let (user, version) = owner(s, h);
            ctx.respond(tid, group::get_group_members(s, &user, version, &req));
        }
        Primitive::AddGroupMembersRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::add_group_members(s, &user, &req));
        }
        Primitive::RemoveGroupMembersRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::remove_group_members(s, &user, &req));
        }
        Primitive::MemberAccessRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::member_access(s, &user, &req));
        }
        Primitive::GetJoinedUsersRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::get_joined_users(s, &user, &req));
        }
        Primitive::RejectListRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::reject_list(s, &user, &req));
        }
        Primitive::SubscribeGroupNoticeRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, group::subscribe_group_notice(s, &user, &req));
        }
        Primitive::SearchRequest(req) => {
            let (_, version) = owner(s, h);
            ctx.respond(tid, search::search(s, h, version, &req));
        }
        Primitive::StopSearchRequest(req) => {
            ctx.respond(tid, search::stop_search(s, h, &req));
        }
        Primitive::InviteRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, invite::invite(s, &user, &req));
        }
        Primitive::InviteUserResponse(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, invite::invite_user_response(s, &user, &req));
        }
        Primitive::CancelInviteRequest(req) => {
            let (user, _) = owner(s, h);
            ctx.respond(tid, invite::cancel_invite(s, &user, &req));
        }
        Primitive::GetPublicProfileRequest(req) => {
            let (user, version) = owner(s, h);
            if version == Version::V1_3 {
                ctx.respond(tid, search::get_public_profile(s, &user, &req));
            } else {
                ctx.status(tid, 506, &format!("service not agreed: {name} (CSP 1.3)"));
            }
        }
        Primitive::UpdatePublicProfileRequest(req) => {
            let (user, version) = owner(s, h);
            if version == Version::V1_3 {
                ctx.respond(tid, search::update_public_profile(s, &user, &req));
            } else {
                ctx.status(tid, 506, &format!("service not agreed: {name} (CSP 1.3)"));
            }
        }
        _ => ctx.status(tid, 501, &format!("{name} is not implemented yet")),
    }
}

/// The session's user and CSP version.
fn owner(s: &Server, h: u64) -> (String, Version) {
    s.sessions
        .get(&h)
        .map_or((String::new(), Version::V1_2), |x| {
            (x.user.clone(), x.version)
        })
}

/// The request's session; otherwise its transaction `tid` is answered with why not.
fn session_of(s: &mut Server, ctx: &mut Ctx, tid: &Option<String>) -> Option<u64> {
    if let Some(h) = ctx.handle.filter(|h| s.sessions.contains_key(h)) {
        return Some(h);
    }
    let ended = ctx
        .session_id
        .as_deref()
        .and_then(|id| s.ended.get(id))
        .map(|(code, _)| *code);
    match ended {
        Some(code) => {
            ctx.ended_code = Some(code);
            let text = if code == 600 {
                "session expired"
            } else {
                "forced logout"
            };
            ctx.status(tid.clone(), code, text);
        }
        None => ctx.status(tid.clone(), 604, "invalid session: log in again"),
    }
    None
}

fn version_discovery() -> VersionDiscoveryResponse {
    VersionDiscoveryResponse {
        version_list: Some(VersionList {
            session_ns_name: Version::ALL
                .iter()
                .map(|v| Ns::Csp.uri(*v).to_owned())
                .collect(),
            transaction_ns_name: Version::ALL
                .iter()
                .map(|v| Ns::Trc.uri(*v).to_owned())
                .collect(),
            presence_attribute_ns_name: Version::ALL
                .iter()
                .map(|v| Ns::Pa.uri(*v).to_owned())
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn sp_info(s: &Server, client_id: Option<ClientId>) -> GetSpInfoResponse {
    let sp = &s.config.service_provider;
    GetSpInfoResponse {
        client_id,
        name: Some(sp.name.clone()),
        logo: None,
        description: sp.description.clone(),
        url: sp.url.clone(),
        ..Default::default()
    }
}

// ---- login ----------------------------------------------------------------------------

/// The keys failed logins are counted under: the account, and the client (peer address when
/// the host knows it, else the ClientID).
fn throttle_keys(user: &str, peer: Option<&str>, client: Option<&ClientId>) -> [Option<String>; 2] {
    let client_key = match (peer, client) {
        (Some(p), _) => Some(format!("peer:{p}")),
        (None, Some(c)) => c
            .url
            .as_ref()
            .or(c.msisdn.as_ref())
            .map(|id| format!("client:{id}")),
        (None, None) => None,
    };
    [Some(format!("acct:{user}")), client_key]
}

fn login(s: &mut Server, ctx: &mut Ctx, tid: Option<String>, req: LoginRequest) {
    let domain = s.config.domain.clone();
    let raw_user = req.user_id.clone().unwrap_or_default();
    let reply = |ctx: &mut Ctx, client_id: Option<ClientId>, code: u16, text: &str| {
        ctx.respond(
            tid.clone(),
            Primitive::LoginResponse(Box::new(LoginResponse {
                client_id,
                result: Some(result(code, text)),
                ..Default::default()
            })),
        );
    };
    let user = match Address::parse_user(&raw_user, &domain) {
        Ok(a) if a.domain != domain => {
            return reply(
                ctx,
                req.client_id,
                516,
                "domain not served here; server-to-server relay is not available",
            );
        }
        Ok(a) => a.to_string(),
        Err(AddressError::Empty) => return reply(ctx, req.client_id, 402, "UserID missing"),
        Err(e) => return reply(ctx, req.client_id, 402, &format!("invalid UserID: {e}")),
    };
    let keys = throttle_keys(&user, ctx.peer, req.client_id.as_ref());
    let now = s.now;
    let locked = keys
        .iter()
        .flatten()
        .filter_map(|k| s.throttles.get(k))
        .map(|t| t.locked_until)
        .max()
        .unwrap_or(0);
    if locked > now {
        let secs = (locked - now).div_ceil(1000);
        let mut r = result(
            503,
            &format!("too many failed logins; try again in {secs} s"),
        );
        if ctx.version == Version::V1_3 {
            r.try_again_timeout = u32::try_from(secs).ok();
        }
        s.outputs
            .push_back(Output::Event(Event::LoginFailed { user, code: 503 }));
        ctx.respond(
            tid,
            Primitive::LoginResponse(Box::new(LoginResponse {
                client_id: req.client_id,
                result: Some(r),
                ..Default::default()
            })),
        );
        return;
    }

    if let Some(password) = req.password.clone() {
        let ok = match s.accounts.get(&user) {
            Some(acc) => acc.hash.verify(&password),
            None if s.config.login.open_registration => {
                let minute_ago = now.saturating_sub(60_000);
                while s.registrations.front().is_some_and(|t| *t <= minute_ago) {
                    s.registrations.pop_front();
                }
                if s.registrations.len() >= s.config.login.registrations_per_minute as usize {
                    return reply(
                        ctx,
                        req.client_id,
                        503,
                        "registration rate exceeded; try again later",
                    );
                }
                let Some(account) = s.new_account(&user, &password) else {
                    return reply(ctx, req.client_id, 500, "could not create the account");
                };
                s.registrations.push_back(now);
                s.accounts.insert(user.clone(), account.clone());
                search::reindex(s, &user);
                s.store(vec![Server::account_op(&user, &account)]);
                s.outputs
                    .push_back(Output::Event(Event::Registered { user: user.clone() }));
                true
            }
            None => false,
        };
        if ok {
            login_success(s, ctx, tid, user, req);
        } else {
            bad_credentials(s, ctx, tid, user, &keys, req.client_id);
        }
        return;
    }

    // Both steps of the 4-way login from here on.
    if !s.config.login.digest {
        return reply(
            ctx,
            req.client_id,
            543,
            "digest login is switched off; send a Password",
        );
    }
    if let Some(digest) = req.digest_bytes.clone() {
        let password = match (s.accounts.get(&user), s.seal_key) {
            (Some(acc), Some(key)) => acc
                .sealed
                .as_deref()
                .and_then(|sealed| auth::open(&key, &user, sealed)),
            _ => None,
        };
        let given = auth::b64_decode(&digest).unwrap_or_default();
        let mut matched = None;
        if let (Some(pw), Some(list)) = (password, s.challenges.get(&user)) {
            for (i, c) in list.iter().enumerate() {
                if c.expires <= now {
                    continue;
                }
                let expected = auth::digest_bytes(&c.schema, &c.nonce, &pw);
                if expected.is_some_and(|e| auth::ct_eq(&e, &given)) {
                    matched = Some(i);
                    break;
                }
            }
        }
        match matched {
            Some(i) => {
                if let Some(list) = s.challenges.get_mut(&user) {
                    list.remove(i);
                }
                login_success(s, ctx, tid, user, req);
            }
            None => bad_credentials(s, ctx, tid, user, &keys, req.client_id),
        }
        return;
    }

    // First step of the 4-way login: choose a scheme and send a nonce (401).
    let schema = if req.digest_schema.is_empty() {
        Some(DigestSchema::Md5)
    } else {
        req.digest_schema
            .iter()
            .find(|d| matches!(d, DigestSchema::Md5 | DigestSchema::Sha))
            .cloned()
    };
    let Some(schema) = schema else {
        if req.digest_schema.contains(&DigestSchema::Pwd) {
            // The client can only send its password in clear: ask for it.
            ctx.respond(
                tid,
                Primitive::LoginResponse(Box::new(LoginResponse {
                    client_id: req.client_id,
                    result: Some(result(401, "send the Password")),
                    digest_schema: Some(DigestSchema::Pwd),
                    ..Default::default()
                })),
            );
            return;
        }
        return reply(
            ctx,
            req.client_id,
            543,
            "no matching digest scheme; MD5 and SHA are supported",
        );
    };
    let nonce = s.random_hex(16);
    // Unknown users get a challenge too (and fail later), so a challenge tells nothing.
    if s.accounts.contains_key(&user) {
        let expires = now + u64::from(s.config.login.nonce_validity_secs) * 1000;
        let list = s.challenges.entry(user).or_default();
        if list.len() >= 4 {
            list.remove(0);
        }
        list.push(Challenge {
            nonce: nonce.clone(),
            schema: schema.clone(),
            expires,
        });
    }
    ctx.respond(
        tid,
        Primitive::LoginResponse(Box::new(LoginResponse {
            client_id: req.client_id,
            result: Some(result(401, "Please complete authentication challenge")),
            nonce: Some(nonce),
            digest_schema: Some(schema),
            ..Default::default()
        })),
    );
}

/// A wrong password, unknown user or bad digest: one answer (409) for all, so it tells
/// nothing; the failure counts towards throttling the account and the client.
fn bad_credentials(
    s: &mut Server,
    ctx: &mut Ctx,
    tid: Option<String>,
    user: String,
    keys: &[Option<String>; 2],
    client_id: Option<ClientId>,
) {
    let (code, text) = (409, "invalid user or password");
    let now = s.now;
    let window = u64::from(s.config.login.failure_window_secs) * 1000;
    let lockout = u64::from(s.config.login.lockout_secs) * 1000;
    let max = s.config.login.max_failures.max(1);
    for key in keys.iter().flatten() {
        // A client (address) may fail for many accounts: allow it more attempts.
        let limit = if key.starts_with("acct:") {
            max
        } else {
            max.saturating_mul(4)
        };
        let t = s.throttles.entry(key.clone()).or_default();
        if t.window_start + window <= now {
            t.window_start = now;
            t.failures = 0;
        }
        t.failures += 1;
        if t.failures >= limit {
            t.locked_until = now + lockout;
            t.failures = 0;
            t.window_start = now;
        }
    }
    s.outputs
        .push_back(Output::Event(Event::LoginFailed { user, code }));
    ctx.respond(
        tid,
        Primitive::LoginResponse(Box::new(LoginResponse {
            client_id,
            result: Some(result(code, text)),
            ..Default::default()
        })),
    );
}

fn clamp_keep_alive(s: &Server, wish: Option<u32>) -> u32 {
    let c = &s.config.session;
    wish.unwrap_or(c.keep_alive_default_secs).clamp(
        c.keep_alive_min_secs,
        c.keep_alive_max_secs.max(c.keep_alive_min_secs),
    )
}

fn login_success(
    s: &mut Server,
    ctx: &mut Ctx,
    tid: Option<String>,
    user: String,
    req: LoginRequest,
) {
    s.throttles.remove(&format!("acct:{user}"));
    // Enforce the per-user session limit by ending the oldest sessions (601).
    let max = s.config.session.max_per_user.max(1) as usize;
    while let Some(oldest) = s
        .by_user
        .get(&user)
        .filter(|l| l.len() >= max)
        .and_then(|l| l.first().copied())
    {
        s.end_session_quietly(oldest, 601);
    }
    let id = s.random_hex(16);
    let cir_token = s.random_hex(16);
    let handle = s.next_handle;
    s.next_handle += 1;
    let keep_alive_secs = clamp_keep_alive(s, req.time_to_live);
    let version = ctx.version;
    let mut session = Session {
        id: id.clone(),
        user: user.clone(),
        version,
        content_type: ctx.reply_type,
        keep_alive_secs,
        expires_at: 0,
        cookie: req.session_cookie.clone(),
        cir_token,
        agreed: None,
        services: None,
        queue: Default::default(),
        mailbox_ready: false,
        group_methods: Default::default(),
        acked: Default::default(),
        replies: Default::default(),
    };
    let mut response = LoginResponse {
        client_id: req.client_id.clone(),
        result: Some(result(200, "logged in")),
        session_id: Some(id.clone()),
        keep_alive_time: Some(keep_alive_secs),
        ..Default::default()
    };
    // 1.3 negotiates capabilities and services inside the login (§1.5).
    if version == Version::V1_3 {
        if let Some(caps) = &req.capability_list {
            let (agreed, list) = negotiate_capability(s, &session, caps);
            session.agreed = Some(agreed);
            response.agreed_capability_list = Some(list);
        }
        if let Some(functions) = &req.functions {
            let (codes, missing) = negotiate_services(version, functions);
            session.services = Some(codes);
            response.functions = missing;
        }
    }
    response.capability_request = Some(session.agreed.is_none());
    s.sessions.insert(handle, session);
    s.by_id.insert(id.clone(), handle);
    s.by_user.entry(user.clone()).or_default().push(handle);
    s.touch(handle);
    ctx.created = Some(handle);
    presence::session_started(s, &user, handle);
    invite::session_started(s, &user, handle);
    if s.sessions.get(&handle).is_some_and(|x| x.agreed.is_some()) {
        super::session_ready(s, handle);
    }
    s.outputs.push_back(Output::Event(Event::LoggedIn {
        user,
        session: id,
        version,
    }));
    ctx.respond(tid, Primitive::LoginResponse(Box::new(response)));
}

// ---- keep-alive -----------------------------------------------------------------------

fn keep_alive(s: &mut Server, ctx: &mut Ctx, h: u64, tid: Option<String>, req: KeepAliveRequest) {
    let granted = clamp_keep_alive(
        s,
        req.time_to_live
            .or_else(|| s.sessions.get(&h).map(|x| x.keep_alive_secs)),
    );
    let accepted = req.time_to_live.is_none_or(|t| t == granted);
    if let Some(sess) = s.sessions.get_mut(&h) {
        sess.keep_alive_secs = granted;
    }
    s.touch(h);
    let r = if accepted {
        result(200, "")
    } else {
        result(605, "TimeToLive not accepted; use KeepAliveTime")
    };
    ctx.respond(
        tid,
        Primitive::KeepAliveResponse(Box::new(KeepAliveResponse {
            result: Some(r),
            keep_alive_time: Some(granted),
            ..Default::default()
        })),
    );
}

// ---- capability -----------------------------------------------------------------------

fn negotiate_capability(
    s: &Server,
    session: &Session,
    caps: &CapabilityList,
) -> (Agreed, AgreedCapabilityList) {
    let cfg = &s.config;
    let offered: Vec<CirMethod> = {
        let mut v = Vec::new();
        if cfg.cir.stcp.is_some() {
            v.push(CirMethod::Stcp);
        }
        if cfg.cir.shttp_base.is_some() && session.version >= Version::V1_2 {
            v.push(CirMethod::Shttp);
        }
        v
    };
    let cir_methods: Vec<CirMethod> = caps
        .supported_cir_method
        .iter()
        .filter(|m| offered.contains(m))
        .cloned()
        .collect();
    let server_poll_min = caps
        .server_poll_min
        .unwrap_or(0)
        .max(cfg.session.server_poll_min_secs);
    let multi_trans = caps
        .multi_trans
        .unwrap_or(1)
        .clamp(1, cfg.session.max_multi_trans.max(1));
    let delivery_method = caps
        .initial_delivery_method
        .clone()
        .unwrap_or(DeliveryMethod::Push);
    let accepted_content_length = caps.accepted_content_length.or(caps.accepted_push_length);
    let mut list = AgreedCapabilityList {
        supported_bearer: vec![Bearer::Http],
        supported_cir_method: cir_methods.clone(),
        server_poll_min: Some(server_poll_min),
        multi_trans: Some(multi_trans),
        ..Default::default()
    };
    if cir_methods.contains(&CirMethod::Stcp)
        && let Some((addr, port)) = &cfg.cir.stcp
    {
        list.tcp_address = Some(addr.clone());
        list.tcp_port = Some(u32::from(*port));
    }
    if cir_methods.contains(&CirMethod::Shttp)
        && let Some(base) = &cfg.cir.shttp_base
    {
        {
            let url = CirUrl {
                url: Some(format!(
                    "{}/{}",
                    base.trim_end_matches('/'),
                    session.cir_token
                )),
                ..Default::default()
            };
            if session.version == Version::V1_3 {
                list.cir_http_address = Some(url);
            } else {
                list.cir_url = Some(url);
            }
        }
    }
    if caps.accepted_transfer_encoding.len() > 1 {
        // Baraza's rule: BASE64 only when the client offered several encodings.
        list.accepted_transfer_encoding = vec![crate::codec::common::ContentEncoding::Base64];
    }
    if session.version == Version::V1_3 {
        let max = cfg.limits.max_message_bytes;
        list.accepted_push_length = caps.accepted_push_length.map(|l| l.min(max));
        list.accepted_pull_length = caps.accepted_pull_length.map(|l| l.min(max));
    }
    // AnyContent=T, or no list at all, means any type.
    let accepted_types = if caps.any_content == Some(true) {
        Vec::new()
    } else {
        caps.accepted_content_type
            .iter()
            .filter_map(|t| t.content_type.clone())
            .collect()
    };
    let agreed = Agreed {
        delivery_method,
        multi_trans,
        server_poll_min,
        accepted_content_length,
        cir_methods,
        accepted_types,
    };
    (agreed, list)
}

fn client_capability(
    s: &mut Server,
    ctx: &mut Ctx,
    h: u64,
    tid: Option<String>,
    req: ClientCapabilityRequest,
) {
    let Some(caps) = req.capability_list else {
        ctx.status(tid, 400, "CapabilityList missing");
        return;
    };
    let Some(session) = s.sessions.get(&h) else {
        return;
    };
    let (agreed, list) = negotiate_capability(s, session, &caps);
    let version = session.version;
    let response = if version == Version::V1_1 {
        // 1.1 echoes the client's list with what the server agreed (Baraza).
        let mut echo = caps.clone();
        echo.supported_cir_method = list.supported_cir_method.clone();
        echo.server_poll_min = list.server_poll_min;
        echo.multi_trans = list.multi_trans;
        echo.tcp_address = list.tcp_address.clone();
        echo.tcp_port = list.tcp_port;
        echo.any_content = Some(true);
        ClientCapabilityResponse {
            client_id: req.client_id,
            capability_list: Some(echo),
            ..Default::default()
        }
    } else {
        ClientCapabilityResponse {
            agreed_capability_list: Some(list),
            ..Default::default()
        }
    };
    if let Some(sess) = s.sessions.get_mut(&h) {
        sess.agreed = Some(agreed);
    }
    ctx.respond(tid, Primitive::ClientCapabilityResponse(Box::new(response)));
    super::session_ready(s, h);
}

// ---- services -------------------------------------------------------------------------

/// Agreed codes and the `Functions` tree of what was asked for but is not offered.
fn negotiate_services(
    version: Version,
    functions: &Functions,
) -> (Vec<&'static str>, Option<Functions>) {
    let requested: Vec<&'static str> = match &functions.wv_csp_feat {
        Some(feat) if !feat.features.is_empty() => service::requested_codes(version, feat),
        // No tree at all: the client asks for everything.
        _ => service::tree(version)
            .iter()
            .flat_map(|r| r.3.iter().copied())
            .collect(),
    };
    let agreed: Vec<&'static str> = requested
        .iter()
        .copied()
        .filter(|c| IMPLEMENTED_FUNCTIONS.contains(c))
        .collect();
    let missing: Vec<&'static str> = requested
        .iter()
        .copied()
        .filter(|c| !IMPLEMENTED_FUNCTIONS.contains(c))
        .collect();
    let missing_tree = (!missing.is_empty()).then(|| Functions {
        wv_csp_feat: Some(service::tree_of(version, &missing)),
    });
    (agreed, missing_tree)
}

fn service(s: &mut Server, ctx: &mut Ctx, h: u64, tid: Option<String>, req: ServiceRequest) {
    let Some(version) = s.sessions.get(&h).map(|x| x.version) else {
        return;
    };
    let functions = req.functions.unwrap_or_default();
    let (codes, missing) = negotiate_services(version, &functions);
    if let Some(sess) = s.sessions.get_mut(&h) {
        sess.services = Some(codes);
    }
    let all_functions = req
        .all_functions_request
        .unwrap_or(false)
        .then(|| Functions {
            wv_csp_feat: Some(service::tree_of(version, IMPLEMENTED_FUNCTIONS)),
        });
    let client_id = if version == Version::V1_1 {
        req.client_id
    } else {
        None
    };
    ctx.respond(
        tid,
        Primitive::ServiceResponse(Box::new(ServiceResponse {
            client_id,
            functions: missing,
            all_functions,
            ..Default::default()
        })),
    );
    super::session_ready(s, h);
}

// ---- system messages ------------------------------------------------------------------

/// A message from the operator, shaped for the receiving session's version: 1.3 has
/// `SystemMessage-Request`; earlier versions get an IM from `wv:system@<domain>`.
pub(crate) fn system_message(s: &mut Server, version: Version, text: &str) -> Primitive {
    use crate::codec::access13::SystemMessageRequest;
    use crate::codec::common::{ContentEncoding, Sender, SystemMessage, SystemMessageList, User};
    use crate::codec::im::{MessageInfo, NewMessage};
    let id = s.random_hex(8);
    if version == Version::V1_3 {
        return Primitive::SystemMessageRequest(Box::new(SystemMessageRequest {
            system_message_list: Some(SystemMessageList {
                system_message: vec![SystemMessage {
                    system_message_id: Some(id),
                    requires_response: Some(false),
                    system_message_text: Some(text.to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    let system = format!("wv:system@{}", s.config.domain);
    Primitive::NewMessage(Box::new(NewMessage {
        message_info: Some(MessageInfo {
            message_id: Some(id),
            content_type: Some("text/plain".into()),
            content_encoding: Some(ContentEncoding::None),
            content_size: Some(text.len() as u64),
            sender: Some(Sender {
                user: Some(User::id(system)),
                ..Default::default()
            }),
            date_time: Some(crate::datetime::format_utc(s.wall_clock_ms)),
            ..Default::default()
        }),
        content_data: Some(text.to_owned()),
        ..Default::default()
    }))
}
