//! Message search at the sizes where the SQLite store changes how it reads (FTS-driven for few
//! matches, a walk against every match, a walk in windows for very many), run against SQLite
//! and PostgreSQL: every page, followed by cursor, equals a plain filter of the tenant's
//! messages.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use chasqui_core::ids::{ChannelId, MessageId, TenantId};
use chasqui_store::Store;
use chasqui_store::inbound::NewMessage;
use chasqui_store::messages::{Message, MessageFilter};
use chrono::{DateTime, Utc};

contract!(search_pages_equal_a_plain_filter_for_rare_common_and_very_common_words);

/// One message to store: tenant, channel, direction, text.
type Row = (TenantId, ChannelId, &'static str, String);

/// Stores the rows in order, a few hundred per transaction.
async fn store_all(store: &Store, rows: &[Row]) {
    for (batch, chunk) in rows.chunks(500).enumerate() {
        let mut tx = store.begin().await.unwrap();
        for (i, (t, ch, direction, body)) in chunk.iter().enumerate() {
            tx.insert_message(&NewMessage {
                tenant: *t,
                channel: *ch,
                conversation: None,
                contact: None,
                direction,
                provider_message_id: Some(format!("wamid.{batch}.{i}")),
                kind: "text".into(),
                status: "received".into(),
                body_text: Some(body.clone()),
                content: serde_json::json!({"kind": "text", "body": body}),
                context_message_id: None,
                provider_timestamp: None,
            })
            .await
            .unwrap()
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// Every page of a filter, following the cursor; checks each page's size on the way.
async fn pages(store: &Store, t: TenantId, f: &MessageFilter, limit: usize) -> Vec<MessageId> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_messages(t, f, limit, cursor).await.unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items.iter().map(|m| m.id));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(page.items.len(), limit, "a page before the last is full");
                assert_eq!(c, page.items.last().unwrap().id.to_string());
                cursor = Some(c.parse().unwrap());
            }
            None => return out,
        }
    }
}

/// The same filter, applied to the tenant's whole history by hand.
fn plain(all: &[Message], f: &MessageFilter) -> Vec<MessageId> {
    let words: Vec<String> =
        f.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    all.iter()
        .filter(|m| {
            let body = m.body_text.as_deref().unwrap_or("").to_lowercase();
            let tokens: Vec<&str> = body.split(|c: char| !c.is_alphanumeric()).collect();
            words.iter().all(|w| tokens.contains(&w.as_str()))
                && f.channel.is_none_or(|c| m.channel_id == c)
                && f.direction.as_deref().is_none_or(|d| m.direction == d)
                && f.since.is_none_or(|s| m.created_at >= s)
                && f.until.is_none_or(|u| m.created_at < u)
        })
        .map(|m| m.id)
        .collect()
}

async fn search_pages_equal_a_plain_filter_for_rare_common_and_very_common_words(store: Store) {
    let a = support::tenant(&store, "A").await;
    let b = support::tenant(&store, "B").await;
    let (a1, a2) = (
        support::channel(&store, a, "100").await,
        support::channel(&store, a, "101").await,
    );
    let b1 = support::channel(&store, b, "200").await;

    // A's messages interleaved with twice as many of B's, so A's rowids are spread out; `comun`
    // in every message of B (5,000: well over the count at which SQLite searches in windows),
    // in A densely, then not at all, then densely again; `medio` in 1,500 (a walk against
    // every match), `raro` in ten of A's (read from the FTS table). One channel of A has one
    // message in ten, so its rowids are spread too wide for windows.
    let mut rows: Vec<Row> = Vec::new();
    for i in 0..2500 {
        let mut words = vec![format!("mensaje{i}")];
        if (i < 600 && i % 10 == 0) || (i >= 1800 && i % 2 == 0) {
            words.push("Comun".into());
        }
        if i % 2 == 1 && i < 2000 {
            words.push("medio".into());
        }
        if i % 250 == 7 {
            words.push("raro".into());
        }
        let ch = if i % 20 == 4 || i % 20 == 9 { a2 } else { a1 };
        let direction = if i % 3 == 0 { "out" } else { "in" };
        rows.push((a, ch, direction, words.join(" ")));
        for j in 0..2 {
            let n = i * 2 + j;
            let medio = if n % 10 == 0 { " medio" } else { "" };
            rows.push((b, b1, "in", format!("comun de B {n}{medio}")));
        }
    }
    store_all(&store, &rows).await;

    let everything = |t| {
        let store = store.clone();
        async move {
            let page = store
                .list_messages(t, &MessageFilter::default(), 100_000, None)
                .await
                .unwrap();
            assert!(page.next_cursor.is_none());
            page.items
        }
    };
    let (all_a, all_b) = (everything(a).await, everything(b).await);
    assert_eq!((all_a.len(), all_b.len()), (2500, 5000));
    assert!(all_a.windows(2).all(|w| w[0].id < w[1].id));
    let since = all_a[1200].created_at;
    let until: DateTime<Utc> = all_a[2300].created_at;

    let q = |text: &str| MessageFilter {
        q: Some(text.into()),
        ..Default::default()
    };
    let cases: Vec<(TenantId, &[Message], MessageFilter)> = vec![
        (a, &all_a[..], q("comun")),
        (a, &all_a[..], q("COMUN")),
        (b, &all_b[..], q("comun")),
        (a, &all_a[..], q("medio")),
        (a, &all_a[..], q("raro")),
        (a, &all_a[..], q("comun medio")),
        (a, &all_a[..], q("nada")),
        (
            a,
            &all_a[..],
            MessageFilter {
                channel: Some(a1),
                ..q("comun")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                channel: Some(a2),
                ..q("comun")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                channel: Some(a2),
                ..q("medio")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                channel: Some(b1),
                ..q("comun")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                direction: Some("out".into()),
                ..q("comun")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                since: Some(since),
                until: Some(until),
                ..q("comun")
            },
        ),
        (
            a,
            &all_a[..],
            MessageFilter {
                channel: Some(a1),
                direction: Some("in".into()),
                since: Some(since),
                ..q("comun")
            },
        ),
    ];
    for (t, all, f) in &cases {
        let expected = plain(all, f);
        for limit in [1, 7, 50, 600] {
            if limit == 1 && expected.len() > 150 {
                continue;
            }
            let got = pages(&store, *t, f, limit).await;
            let first_difference = got.iter().zip(&expected).position(|(g, e)| g != e);
            assert!(
                got == expected,
                "{f:?}, {limit} per page: {} found, {} expected, first difference at {first_difference:?}",
                got.len(),
                expected.len()
            );
        }
    }
    // The filters found something where it matters, and nothing of the other tenant.
    assert_eq!(plain(&all_a[..], &q("comun")).len(), 60 + 350);
    assert_eq!(plain(&all_b[..], &q("comun")).len(), 5000);
    assert_eq!(plain(&all_a[..], &q("raro")).len(), 10);
    assert!(
        pages(&store, a, &q("de"), 50).await.is_empty(),
        "B's words are not A's"
    );
}
