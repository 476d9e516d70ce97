//! Every file in `reference/whatsapp/`: webhooks parse (and match an independent reading of the
//! raw JSON), Graph errors parse, send bodies are refused as webhooks; plus specific checks of
//! what each kind of payload must yield.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use chasqui_channels::graph_error::{GraphError, parse_graph_error};
use chasqui_channels::meta::{KnownField, MetaPayload, MetaWebhook, ParseError, parse_webhook};
use chasqui_core::message::{InboundMessage, InteractiveReply, MessageContent};
use chasqui_core::status::{Status, StatusUpdate};
use serde_json::Value;

use common::{json_files, read_bytes, read_json};

/// How a reference file is used, decided by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Webhook,
    GraphError,
    Other,
}

fn role(v: &Value) -> Role {
    if v.get("entry").is_some() {
        Role::Webhook
    } else if v.get("error").is_some_and(Value::is_object)
        || (v.get("code").is_some() && (v.get("title").is_some() || v.get("message").is_some()))
    {
        Role::GraphError
    } else {
        Role::Other
    }
}

fn corpus() -> Vec<(String, Role)> {
    json_files("whatsapp")
        .into_iter()
        .map(|name| {
            let v = read_json(&format!("whatsapp/{name}"));
            let r = role(&v);
            (name, r)
        })
        .collect()
}

fn webhook(name: &str) -> MetaWebhook {
    let raw = read_bytes(&format!("whatsapp/{name}"));
    parse_webhook(&raw).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One line per event: `message:<kind>`, `status:<provider status>`, `error:<code>`, `field:<name>`.
fn summary(w: &MetaWebhook) -> Vec<String> {
    w.events
        .iter()
        .map(|e| match &e.payload {
            MetaPayload::Message { message, .. } => format!("message:{}", message.kind()),
            MetaPayload::Status { status, .. } => format!("status:{}", status.provider_status),
            MetaPayload::Error { error, .. } => format!("error:{}", error.code.unwrap_or(-1)),
            MetaPayload::Field { .. } => format!("field:{}", e.routing.field),
        })
        .collect()
}

/// The same summary, read straight from the raw JSON without the parser.
fn expected_summary(raw: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for entry in raw["entry"].as_array().unwrap() {
        for change in entry["changes"].as_array().unwrap() {
            let field = change["field"].as_str().unwrap();
            let value = &change["value"];
            if field != "messages" {
                out.push(format!("field:{field}"));
                continue;
            }
            let before = out.len();
            for m in value["messages"].as_array().into_iter().flatten() {
                out.push(format!("message:{}", expected_kind(m)));
            }
            for s in value["statuses"].as_array().into_iter().flatten() {
                out.push(format!("status:{}", s["status"].as_str().unwrap()));
            }
            for e in value["errors"].as_array().into_iter().flatten() {
                out.push(format!("error:{}", e["code"].as_i64().unwrap()));
            }
            if out.len() == before {
                out.push("field:messages".into());
            }
        }
    }
    out
}

fn expected_kind(m: &Value) -> String {
    let ty = m["type"].as_str().unwrap_or("");
    match ty {
        "unsupported" | "unknown" => "unsupported".into(),
        "revoke" | "request_welcome" => ty.into(),
        "text" if m["text"]["body"].is_string() => "text".into(),
        "contacts" if m["contacts"].is_array() => "contacts".into(),
        "image" | "audio" | "video" | "document" | "sticker" | "location" | "interactive"
        | "button" | "reaction" | "order" | "system" | "edit"
            if m[ty].is_object() =>
        {
            ty.into()
        }
        _ => "unknown".into(),
    }
}

#[test]
fn reference_corpus_is_present_and_classified() {
    let files = corpus();
    let mut counts: BTreeMap<Role, usize> = BTreeMap::new();
    for (_, r) in &files {
        *counts.entry(*r).or_default() += 1;
    }
    assert!(
        counts.get(&Role::Webhook).copied().unwrap_or(0) >= 140,
        "expected the whole webhook corpus, got {counts:?}"
    );
    assert_eq!(counts.get(&Role::GraphError), Some(&6), "{counts:?}");
    assert!(
        counts.get(&Role::Other).copied().unwrap_or(0) >= 20,
        "{counts:?}"
    );
}

#[test]
fn every_webhook_parses_and_matches_an_independent_reading() {
    let mut checked = 0;
    for (name, r) in corpus() {
        if r != Role::Webhook {
            continue;
        }
        let w = webhook(&name);
        assert!(!w.events.is_empty(), "{name}: no events");
        let raw = read_json(&format!("whatsapp/{name}"));
        assert_eq!(summary(&w), expected_summary(&raw), "{name}");
        // Every event survives the trip to storage and back.
        let stored = serde_json::to_string(&w).unwrap();
        let back: MetaWebhook = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, w, "{name}: JSON round trip");
        // Every message has what the store needs.
        for (_, m) in w.messages() {
            assert!(!m.provider_message_id.is_empty(), "{name}");
            assert!(!m.preview_text().is_empty(), "{name}: empty preview");
        }
        checked += 1;
    }
    assert!(checked >= 140, "only {checked} webhooks checked");
}

#[test]
fn non_webhooks_are_refused_with_a_precise_error() {
    for (name, r) in corpus() {
        if r == Role::Webhook {
            continue;
        }
        let raw = read_bytes(&format!("whatsapp/{name}"));
        match parse_webhook(&raw) {
            Err(ParseError::WrongObject { found }) => assert_eq!(found, "missing", "{name}"),
            other => panic!("{name}: expected WrongObject, got {other:?}"),
        }
    }
}

#[test]
fn graph_errors_parse() {
    let mut seen = 0;
    for (name, r) in corpus() {
        if r != Role::GraphError {
            continue;
        }
        let e = parse_graph_error(&read_bytes(&format!("whatsapp/{name}")))
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(e.code.is_some(), "{name}");
        check_graph_error(&name, &e);
        seen += 1;
    }
    assert_eq!(seen, 6);
}

fn check_graph_error(name: &str, e: &GraphError) {
    let expect = |code: i64, subcode: Option<i64>, trace: Option<&str>| {
        assert_eq!(e.code, Some(code), "{name}");
        assert_eq!(e.subcode, subcode, "{name}");
        assert_eq!(e.fbtrace_id.as_deref(), trace, "{name}");
    };
    match name {
        "graph_error_131030_recipient_not_in_allowed_list.json" => {
            expect(131030, None, Some("<ID>"));
            assert_eq!(e.error_type.as_deref(), Some("OAuthException"));
            assert!(
                e.details
                    .as_deref()
                    .unwrap()
                    .starts_with("Recipient phone number not in allowed list")
            );
            assert_eq!(
                e.error_data.as_ref().unwrap()["messaging_product"],
                "whatsapp"
            );
        }
        "graph_error_190_463_token_expired.json" => {
            expect(190, Some(463), Some("AZ-HzGEkqc5Vf3E0gy-eAcV"));
            assert!(
                e.message
                    .as_deref()
                    .unwrap()
                    .contains("Session has expired")
            );
        }
        "graph_error_131053_media_upload_error_object.json" => {
            expect(131053, None, None);
            assert_eq!(e.title.as_deref(), Some("Media upload error"));
            assert!(e.details.as_deref().unwrap().contains("http code 429"));
            assert_eq!(
                e.to_provider_error().title.as_deref(),
                Some("Media upload error")
            );
        }
        "javaapi_phoneNumberNotFoundError.json" => {
            expect(100, Some(33), Some("AeadGx6xI8M9EVqcy11ynej"));
            assert_eq!(e.error_type.as_deref(), Some("GraphMethodException"));
        }
        "javaapi_requestCodeError.json" => {
            expect(136024, Some(2388091), Some("Aayh7_x-pxzNlCVeeb3IxXU"));
            assert_eq!(e.is_transient, Some(false));
            assert_eq!(
                e.user_title.as_deref(),
                Some("Não foi possível enviar o código")
            );
            assert_eq!(
                e.user_message.as_deref(),
                Some("Tente novamente depois de um tempo.")
            );
        }
        "javaapi_verifyCodeError.json" => {
            expect(136025, Some(2388093), Some("AlUVfPbGecEVqld9CAPMk53"));
        }
        other => panic!("no expectations for graph error {other}"),
    }
}

fn messages(w: &MetaWebhook) -> Vec<&InboundMessage> {
    w.messages().map(|(_, m)| m).collect()
}

fn message(name: &str) -> InboundMessage {
    let w = webhook(name);
    let all = messages(&w);
    assert_eq!(all.len(), 1, "{name}");
    all[0].clone()
}

fn status(name: &str) -> StatusUpdate {
    let w = webhook(name);
    let all: Vec<_> = w.statuses().map(|(_, s)| s.clone()).collect();
    assert_eq!(all.len(), 1, "{name}");
    all[0].clone()
}

fn field(name: &str) -> (String, KnownField) {
    let w = webhook(name);
    assert_eq!(w.events.len(), 1, "{name}");
    match &w.events[0].payload {
        MetaPayload::Field { known, .. } => (w.events[0].routing.field.clone(), known.clone()),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn text_messages_routing_and_senders() {
    let w = webhook("dashboard_test_button_sample_text_message.json");
    let (routing, m) = w.messages().next().unwrap();
    assert_eq!(routing.waba_id.as_deref(), Some("0"));
    assert_eq!(routing.phone_number_id.as_deref(), Some("123456123"));
    assert_eq!(m.provider_message_id, "ABGGFlA5Fpa");
    assert_eq!(m.kind(), "text");

    let m = message("signed_raw_body_pywa_real_text_message.json");
    assert_eq!(
        m.content,
        MessageContent::Text {
            body: "Hey there! I am using PyWa.".into()
        }
    );
    assert_eq!(m.sender.wa_id.as_deref(), Some("972544401243"));
    assert_eq!(m.sender.profile_name.as_deref(), Some("PyWa Tests"));
    assert_eq!(m.timestamp, Some(1_730_231_903));

    let m = message("pywa_message__text.json");
    assert_eq!(m.sender.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(
        m.sender.parent_user_id.as_deref(),
        Some("US.ENT.11815799212886844830")
    );

    // Username-era message with no phone number at all.
    let m = message("netflie_a_with_bsuid_only_and_no_from.json");
    assert_eq!(m.sender.wa_id, None);
    assert_eq!(m.sender.user_id.as_deref(), Some("BSUID_123"));
    assert_eq!(m.sender.profile_name.as_deref(), Some("NAME"));

    let m = message("netflie_test_build_from_payload_without_contact_profile_can_build_a.json");
    assert_eq!(m.sender.wa_id.as_deref(), Some("PHONE_NUMBER"));
    assert_eq!(m.sender.profile_name, None);

    // The message's own `from` wins; a contradicting contact is not glued to it.
    let m = message(
        "netflie_test_build_from_payload_can_keep_wa_id_priority_when_user_id_is_present.json",
    );
    assert_eq!(m.sender.wa_id.as_deref(), Some("PHONE_NUMBER"));
    assert_eq!(m.sender.user_id, None);

    let w = webhook("netflie_multiple_text.json");
    assert_eq!(messages(&w).len(), 2);
}

#[test]
fn context_and_referral() {
    let m = message("meta_openapi_webhook_text_message_from_click_to_whatsapp_ad.json");
    let r = m.referral.unwrap();
    assert_eq!(r.source_type.as_deref(), Some("ad"));
    assert_eq!(r.source_id.as_deref(), Some("120226305854810726"));
    assert!(r.ctwa_clid.unwrap().starts_with("Aff-n8ZT"));
    assert_eq!(
        r.welcome_message.as_deref(),
        Some("Hi there! Let us know how we can help!")
    );
    assert_eq!(r.headline.as_deref(), Some("Chat with us"));

    let m = message("pywa_message__referral.json");
    assert_eq!(m.referral.unwrap().ctwa_clid.as_deref(), Some("CTWA_CLID"));

    let m = message("meta_openapi_webhook_text_message_with_context_product_inquiry.json");
    let product = m.context.unwrap().referred_product.unwrap();
    assert!(product.catalog_id.is_some() && product.product_retailer_id.is_some());

    let m = message("pywa_message__reply.json");
    assert!(m.context.unwrap().replied_to_id.is_some());

    let m = message("pywa_message__forwarded.json");
    assert!(m.context.unwrap().forwarded);
    let m = message("pywa_message__forwarded_many_times.json");
    assert!(m.context.unwrap().frequently_forwarded);
}

#[test]
fn media_messages() {
    let m = message("meta_openapi_webhook_image_message.json");
    let media = m.content.media().unwrap();
    assert!(media.id.is_some() && media.sha256.is_some());
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));

    let m = message("pywa_message__media_with_url.json");
    assert!(
        m.content
            .media()
            .unwrap()
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://")
    );

    match message("pywa_message__voice.json").content {
        MessageContent::Audio { voice, media } => {
            assert!(voice);
            assert!(media.mime_type.unwrap().starts_with("audio/ogg"));
        }
        other => panic!("{other:?}"),
    }
    match message("pywa_message__audio.json").content {
        MessageContent::Audio { voice, .. } => assert!(!voice),
        other => panic!("{other:?}"),
    }
    let m = message("javaapi_documentMessage.json");
    assert_eq!(m.kind(), "document");
    assert!(m.content.media().unwrap().filename.is_some());
    match message("pywa_message__animated_sticker.json").content {
        MessageContent::Sticker { animated, .. } => assert!(animated),
        other => panic!("{other:?}"),
    }
    match message("pywa_message__static_sticker.json").content {
        MessageContent::Sticker { animated, .. } => assert!(!animated),
        other => panic!("{other:?}"),
    }
    assert_eq!(message("javaapi_videoMessage.json").kind(), "video");
}

#[test]
fn locations_contacts_orders() {
    match message("meta_openapi_webhook_location_message.json").content {
        MessageContent::Location {
            latitude,
            longitude,
            ..
        } => assert!(latitude.is_some() && longitude.is_some()),
        other => panic!("{other:?}"),
    }
    match message("meta_openapi_webhook_contact_sharing_message.json").content {
        MessageContent::Contacts { contacts } => {
            assert_eq!(contacts.len(), 1);
            assert_eq!(contacts[0].formatted_name.as_deref(), Some("Lucía Gómez"));
            assert_eq!(contacts[0].organization.as_deref(), Some("Google"));
            assert_eq!(contacts[0].phones[0].wa_id.as_deref(), Some("19835552319"));
            assert_eq!(contacts[0].phones[0].label.as_deref(), Some("MOBILE"));
        }
        other => panic!("{other:?}"),
    }
    match message("pywa_message__contacts.json").content {
        MessageContent::Contacts { contacts } => assert_eq!(contacts.len(), 3),
        other => panic!("{other:?}"),
    }
    match message("meta_openapi_webhook_order_message.json").content {
        MessageContent::Order {
            catalog_id,
            text,
            product_items,
        } => {
            assert_eq!(catalog_id.as_deref(), Some("194836987003835"));
            assert_eq!(text, None, "empty order text reads as absent");
            assert_eq!(product_items.len(), 2);
            assert_eq!(product_items[0].quantity, Some(2));
            assert_eq!(product_items[0].item_price, Some(30.0));
            assert_eq!(product_items[0].currency.as_deref(), Some("USD"));
        }
        other => panic!("{other:?}"),
    }
}

fn reply(name: &str) -> InteractiveReply {
    match message(name).content {
        MessageContent::Interactive { reply } => reply,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn interactive_and_button_replies() {
    assert!(matches!(
        reply("meta_openapi_webhook_interactive_button_reply_message.json"),
        InteractiveReply::ButtonReply {
            id: Some(_),
            title: Some(_)
        }
    ));
    assert_eq!(
        reply("pywa_callback_selection__description.json"),
        InteractiveReply::ListReply {
            id: Some("callback_data".into()),
            title: Some("title".into()),
            description: Some("description".into())
        }
    );
    match reply("pywa_flow_completion__completion.json") {
        InteractiveReply::FlowReply {
            name,
            body,
            response_json,
            flow_token,
        } => {
            assert_eq!(name.as_deref(), Some("flow"));
            assert_eq!(body.as_deref(), Some("Sent"));
            assert_eq!(response_json["delivery_rating"], "4");
            assert_eq!(flow_token.as_deref(), Some("AQAAAAACS5FpgQ_cAAAAAD0QI3s."));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reply("pywa_call_permission_update__accept.json"),
        InteractiveReply::CallPermissionReply {
            response: Some("accept".into()),
            expiration_timestamp: Some(1_753_186_982),
            response_source: Some("user_action".into())
        }
    );
    let m = message("meta_openapi_webhook_button_message.json");
    assert!(matches!(
        m.content,
        MessageContent::Button {
            payload: Some(_),
            text: Some(_)
        }
    ));
    assert!(
        m.context.unwrap().replied_to_id.is_some(),
        "the template it answers"
    );
    assert_eq!(
        message("pywa_callback_button__quick_reply_without_context.json").context,
        None
    );
}

#[test]
fn reactions_and_their_removal() {
    match message("pywa_message__reaction.json").content {
        MessageContent::Reaction { emoji, message_id } => {
            assert!(emoji.is_some() && message_id.is_some());
        }
        other => panic!("{other:?}"),
    }
    for name in [
        "pywa_message__unreaction_empty.json",
        "pywa_message__unreaction_no_emoji.json",
        "netflie_a_removed_reaction.json",
    ] {
        let m = message(name);
        assert!(
            matches!(m.content, MessageContent::Reaction { emoji: None, .. }),
            "{name}"
        );
        assert_eq!(m.preview_text(), "[reaction removed]");
    }
}

#[test]
fn system_edit_revoke_unsupported() {
    match message("meta_openapi_webhook_system_message.json").content {
        MessageContent::System {
            system_type,
            new_wa_id,
            ..
        } => {
            assert_eq!(system_type.as_deref(), Some("user_changed_number"));
            assert_eq!(new_wa_id.as_deref(), Some("12195555358"));
        }
        other => panic!("{other:?}"),
    }
    match message("netflie_a_system.json").content {
        MessageContent::System { previous_id, .. } => {
            assert_eq!(previous_id.as_deref(), Some("OLD_PHONE_NUMBER_ID"));
        }
        other => panic!("{other:?}"),
    }
    match message("pywa_system__identity_change.json").content {
        MessageContent::System {
            identity,
            system_type,
            ..
        } => {
            assert_eq!(system_type.as_deref(), Some("customer_identity_changed"));
            assert_eq!(identity.unwrap().hash.as_deref(), Some("xyzxyz"));
        }
        other => panic!("{other:?}"),
    }
    match message("pywa_edited_message__image.json").content {
        MessageContent::Edit {
            original_message_id,
            content,
        } => {
            assert!(original_message_id.unwrap().starts_with("wamid."));
            assert_eq!(content.kind(), "image");
            assert_eq!(
                content.media().unwrap().caption.as_deref(),
                Some("Updated image caption")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        message("pywa_deleted_message__revoke.json").content,
        MessageContent::Revoke {
            original_message_id: Some("<ORIGINAL_WHATSAPP_MESSAGE_ID>".into())
        }
    );
    let m = message("pywa_message__unsupported_with_type.json");
    assert_eq!(
        m.content,
        MessageContent::Unsupported {
            message_type: "unsupported".into(),
            unsupported_type: Some("pool".into())
        }
    );
    assert_eq!(m.errors[0].code, Some(131051));
    let m = message("netflie_an_unknown.json");
    assert!(
        matches!(&m.content, MessageContent::Unsupported { message_type, .. } if message_type == "unknown")
    );
    assert_eq!(
        m.errors[0].details.as_deref(),
        Some("Message type is not currently supported")
    );
    assert_eq!(
        message("meta_openapi_webhook_unsupported_message.json").errors[0].code,
        Some(131051)
    );
}

#[test]
fn value_level_errors_sit_next_to_messages() {
    let w = webhook("pywa_message__interactive_message_with_err.json");
    assert_eq!(summary(&w), vec!["message:unknown", "error:131000"]);
    match &w.events[1].payload {
        MetaPayload::Error { error, .. } => {
            assert_eq!(
                error.details.as_deref(),
                Some("Unsupported webhook payload")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn statuses() {
    let s = status("real_capture_status_sent_br_number.json");
    assert_eq!(s.status, Some(Status::Sent));
    assert_eq!(s.recipient_wa_id.as_deref(), Some("5516992318222"));
    assert_eq!(s.timestamp, Some(1_750_857_384));
    let conv = s.conversation.unwrap();
    assert_eq!(conv.expiration_timestamp, Some(1_750_943_820));
    assert_eq!(conv.origin_type.as_deref(), Some("service"));
    let pricing = s.pricing.unwrap();
    assert_eq!(pricing.pricing_model.as_deref(), Some("CBP"));
    assert_eq!(pricing.billable, Some(true));
    assert_eq!(
        status("real_capture_status_delivered_br_number.json").status,
        Some(Status::Delivered)
    );
    assert_eq!(
        status("pywa_message_status__played.json").status,
        Some(Status::Played)
    );
    assert_eq!(
        status("javaapi_textMessageStatusRead.json").status,
        Some(Status::Read)
    );

    let s = status("pywa_message_status__failed.json");
    assert_eq!(s.status, Some(Status::Failed));
    assert_eq!(s.errors[0].code, Some(130472));
    assert_eq!(
        s.recipient_user_id.as_deref(),
        Some("US.13491208655302741918")
    );
    let s = status("javaapi_reEngagementMessageError.json");
    assert_eq!(s.errors[0].code, Some(131047));
    assert!(s.errors[0].details.as_deref().unwrap().contains("24 hours"));
    let s = status("javaapi_mediaUploadError.json");
    assert_eq!(s.errors[0].code, Some(131053));
    assert!(
        !status("netflie_a_status_with_errors.json")
            .errors
            .is_empty()
    );

    let s = status("pywa_message_status__group.json");
    assert_eq!(s.recipient_type.as_deref(), Some("group"));
    assert_eq!(s.group_id.as_deref(), Some("fowefinoewcnw"));
    assert_eq!(s.participant_user_id.as_deref(), Some("US.123456"));
    assert_eq!(s.recipient_wa_id, None);

    let s = status("pywa_message_status__with_tracker.json");
    assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("some data"));
    let s = status("netflie_a_status_with_pricing.json");
    assert_eq!(s.pricing.unwrap().category.as_deref(), Some("marketing"));
}

#[test]
fn statuses_in_the_corpus_fold_monotonically() {
    // Every status value in the corpus is on the lattice, and folding them in any order agrees.
    let mut seen = Vec::new();
    for (name, r) in corpus() {
        if r != Role::Webhook {
            continue;
        }
        let w = webhook(&name);
        for (routing, s) in w.statuses() {
            if routing.field == "messages" {
                seen.push(
                    s.status
                        .unwrap_or_else(|| panic!("{name}: {}", s.provider_status)),
                );
            }
        }
    }
    assert!(seen.len() >= 20, "{}", seen.len());
    let forward = chasqui_core::status::merge_all(seen.iter().copied());
    let backward = chasqui_core::status::merge_all(seen.iter().rev().copied());
    assert_eq!(forward, Some(Status::Played));
    assert_eq!(forward, backward);
}

#[test]
fn account_and_template_fields() {
    match field("pywa_account_update__partner_removed.json") {
        (f, KnownField::AccountUpdate(a)) => {
            assert_eq!(f, "account_update");
            assert_eq!(a.event.as_deref(), Some("PARTNER_REMOVED"));
            assert_eq!(a.waba_id.as_deref(), Some("980198427658004"));
            assert!(a.disconnects_channel());
        }
        other => panic!("{other:?}"),
    }
    match field("pywa_account_update__partner_app_installed.json") {
        (_, KnownField::AccountUpdate(a)) => {
            assert_eq!(a.waba_id.as_deref(), Some("1191624265890717"));
            assert_eq!(a.partner_app_id.as_deref(), Some("5731794616896507"));
            assert!(!a.disconnects_channel());
        }
        other => panic!("{other:?}"),
    }
    match field("javaapi_accountBanned.json") {
        (_, KnownField::AccountUpdate(a)) => {
            assert_eq!(a.ban_state.as_deref(), Some("SCHEDULE_FOR_DISABLE"));
            assert_eq!(a.ban_date.as_deref(), Some("January 31, 2021"));
        }
        other => panic!("{other:?}"),
    }
    match field("pywa_account_update__account_restriction.json") {
        (_, KnownField::AccountUpdate(a)) => assert_eq!(a.restriction_types.len(), 2),
        other => panic!("{other:?}"),
    }
    match field("pywa_account_update__account_violation.json") {
        (_, KnownField::AccountUpdate(a)) => assert_eq!(a.violation_type.as_deref(), Some("ADULT")),
        other => panic!("{other:?}"),
    }
    match field("javaapi_verifiedAccount.json") {
        (_, KnownField::AccountUpdate(a)) => {
            assert_eq!(a.event.as_deref(), Some("VERIFIED_ACCOUNT"));
            assert_eq!(a.phone_number.as_deref(), Some("1111111111111"));
        }
        other => panic!("{other:?}"),
    }
    match field("javaapi_accountReview.json") {
        (_, KnownField::AccountReview(r)) => assert_eq!(r.decision.as_deref(), Some("APPROVED")),
        other => panic!("{other:?}"),
    }
    match field("pywa_template_status_update__rejected.json") {
        (_, KnownField::TemplateStatus(t)) => {
            assert_eq!(t.event.as_deref(), Some("REJECTED"));
            assert_eq!(t.template_id.as_deref(), Some("1689556908129835"));
            assert_eq!(t.template_name.as_deref(), Some("abandoned_cart"));
            assert_eq!(t.reason.as_deref(), Some("INVALID_FORMAT"));
            assert!(t.rejection_reason.is_some() && t.recommendation.is_some());
            assert_eq!(t.category.as_deref(), Some("MARKETING"));
        }
        other => panic!("{other:?}"),
    }
    match field("javaapi_templateSchedulingForDisabling.json") {
        (_, KnownField::TemplateStatus(t)) => {
            assert_eq!(t.event.as_deref(), Some("FLAGGED"));
            assert_eq!(t.reason, None);
            assert_eq!(t.disable_date.as_deref(), Some("January 31, 2021"));
        }
        other => panic!("{other:?}"),
    }
    match field("pywa_template_quality_update__yellow.json") {
        (_, KnownField::TemplateQuality(q)) => {
            assert_eq!(q.previous_quality_score.as_deref(), Some("GREEN"));
            assert_eq!(q.new_quality_score.as_deref(), Some("YELLOW"));
        }
        other => panic!("{other:?}"),
    }
    match field("pywa_template_category_update__marketing.json") {
        (_, KnownField::TemplateCategory(c)) => {
            assert_eq!(c.new_category.as_deref(), Some("MARKETING"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn phone_number_and_preference_fields() {
    match field("javaapi_qualityUpdate.json") {
        (_, KnownField::PhoneNumberQuality(q)) => {
            assert_eq!(q.event.as_deref(), Some("FLAGGED"));
            assert_eq!(q.current_limit.as_deref(), Some("TIER_10K"));
            assert_eq!(q.display_phone_number.as_deref(), Some("16505551111"));
        }
        other => panic!("{other:?}"),
    }
    match field("javaapi_phoneNumberNameUpdate.json") {
        (_, KnownField::PhoneNumberName(n)) => {
            assert_eq!(n.decision.as_deref(), Some("APPROVED"));
            assert_eq!(n.requested_verified_name.as_deref(), Some("WhatsApp"));
        }
        other => panic!("{other:?}"),
    }
    match field("pywa_user_marketing_preferences__resume.json") {
        (f, KnownField::UserPreferences { preferences }) => {
            assert_eq!(f, "user_preferences");
            assert_eq!(preferences.len(), 1);
            assert_eq!(preferences[0].value.as_deref(), Some("resume"));
            assert_eq!(
                preferences[0].category.as_deref(),
                Some("marketing_messages")
            );
            assert_eq!(preferences[0].timestamp, Some(1_731_705_721));
            assert!(!preferences[0].is_opt_out());
        }
        other => panic!("{other:?}"),
    }
    for name in [
        "pywa_call_connect__user_initiated.json",
        "pywa_call_status__call_status.json",
        "pywa_call_terminate__call_terminate.json",
        "meta_openapi_webhook_group_create_message.json",
        "pywa_outgoing_message__text.json",
        "pywa_template_components_update__element.json",
    ] {
        assert_eq!(field(name).1, KnownField::Other, "{name}");
    }
}
