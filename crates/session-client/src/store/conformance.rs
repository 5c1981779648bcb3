//! The conformance suite every [`ClientStore`] backend must pass. Each check is a
//! function over a fresh store; the macro at the bottom instantiates all of them for the
//! in-memory and the SQLite backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use session_crypto::{AccountId, IdPrefix};

use super::*;

fn sid(n: u8) -> AccountId {
    AccountId::new(IdPrefix::Standard, [n; 32])
}

/// This account.
fn me() -> AccountId {
    sid(0)
}

fn incoming(peer: AccountId, sent_ms: u64, hash: &str, body: &str) -> NewMessage {
    NewMessage {
        attachments: Vec::new(),
        conversation: peer,
        direction: Direction::Incoming,
        sender: peer,
        sent_ms,
        received_ms: sent_ms + 5,
        server_hash: Some(hash.to_owned()),
        body: body.to_owned(),
        expiry: None,
    }
}

fn outgoing(peer: AccountId, sent_ms: u64, body: &str) -> NewMessage {
    NewMessage {
        attachments: Vec::new(),
        conversation: peer,
        direction: Direction::Outgoing,
        sender: me(),
        sent_ms,
        received_ms: sent_ms,
        server_hash: None,
        body: body.to_owned(),
        expiry: None,
    }
}

fn insert(s: &dyn ClientStore, m: &NewMessage) -> MessageId {
    match s.insert_message(m).unwrap() {
        Inserted::New(id) => id,
        other => panic!("expected a new message, got {other:?}"),
    }
}

fn bodies(list: &[StoredMessage]) -> Vec<&str> {
    list.iter().map(|m| m.body.as_str()).collect()
}

fn peers(list: &[Conversation]) -> Vec<AccountId> {
    list.iter().map(|c| c.peer).collect()
}

const AFTER_READ_60: Expiry = Expiry {
    mode: ExpiryMode::AfterRead,
    seconds: 60,
};
const AFTER_SEND_30: Expiry = Expiry {
    mode: ExpiryMode::AfterSend,
    seconds: 30,
};

pub fn insert_and_get(s: &dyn ClientStore) {
    let a = sid(1);
    let mut m = incoming(a, 1_000, "hash-a1", "hello");
    m.received_ms = 1_234;
    let id = insert(s, &m);
    let got = s.message(id).unwrap().unwrap();
    assert_eq!(
        got,
        StoredMessage {
            attachments: Vec::new(),
            id,
            conversation: a,
            direction: Direction::Incoming,
            sender: a,
            sent_ms: 1_000,
            received_ms: 1_234,
            server_hash: Some("hash-a1".into()),
            body: "hello".into(),
            read: false,
            peer_read: false,
            expiry: None,
            expires_at_ms: None,
        }
    );
    assert_eq!(s.message_by_hash("hash-a1").unwrap(), Some(got.clone()));
    assert_eq!(s.message_by_hash("nope").unwrap(), None);
    assert_eq!(s.message(MessageId(id.0 + 100)).unwrap(), None);

    // Outgoing: read at once, no hash until the swarm answers.
    let out = insert(s, &outgoing(a, 2_000, "hi back"));
    assert_ne!(out, id);
    let o = s.message(out).unwrap().unwrap();
    assert!(o.read);
    assert_eq!(o.sender, me());
    assert_eq!(o.server_hash, None);
    assert!(s.set_server_hash(out, "hash-o1").unwrap());
    assert_eq!(s.message_by_hash("hash-o1").unwrap().unwrap().id, out);
    assert!(!s.set_server_hash(MessageId(out.0 + 100), "hash-x").unwrap());
    // A hash belongs to one message only.
    assert!(matches!(
        s.set_server_hash(out, "hash-a1"),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(s.message_by_hash("hash-a1").unwrap().unwrap().id, id);

    // Hash prefixes (what a user types): special characters are plain text.
    let found = s.messages_by_hash_prefix("hash-", 10).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(s.messages_by_hash_prefix("hash-", 1).unwrap().len(), 1);
    assert_eq!(s.messages_by_hash_prefix("hash-o", 10).unwrap()[0].id, out);
    assert!(s.messages_by_hash_prefix("hash_", 10).unwrap().is_empty());
    assert!(s.messages_by_hash_prefix("%", 10).unwrap().is_empty());
    assert!(s.messages_by_hash_prefix("*", 10).unwrap().is_empty());
    assert_eq!(s.messages_by_hash_prefix("", 10).unwrap().len(), 2);

    // Unicode and empty bodies survive.
    let u = insert(s, &incoming(a, 3_000, "hash-a3", "héllo 👋\n"));
    assert_eq!(s.message(u).unwrap().unwrap().body, "héllo 👋\n");
    let e = insert(s, &incoming(a, 3_001, "hash-a4", ""));
    assert_eq!(s.message(e).unwrap().unwrap().body, "");
}

pub fn duplicates_are_ignored(s: &dyn ClientStore) {
    let a = sid(1);
    let id = insert(s, &incoming(a, 1_000, "h1", "first"));
    // Same server hash, whatever else differs.
    let mut again = incoming(a, 9_999, "h1", "other");
    again.conversation = sid(2);
    assert_eq!(s.insert_message(&again).unwrap(), Inserted::Duplicate);
    // Same (conversation, sender, sent time) under another hash (another copy).
    assert_eq!(
        s.insert_message(&incoming(a, 1_000, "h1-copy", "first"))
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(s.message_by_hash("h1-copy").unwrap(), None);
    assert_eq!(s.history(&a, None, 10).unwrap().len(), 1);
    assert_eq!(s.conversation(&sid(2)).unwrap(), None);
    // Same sender and time in another conversation is another message.
    let mut elsewhere = incoming(a, 1_000, "h2", "x");
    elsewhere.conversation = sid(3);
    assert!(s.insert_message(&elsewhere).unwrap().is_new());

    // An outgoing message stored before the swarm answered takes the hash of its copy.
    let out = insert(s, &outgoing(a, 2_000, "mine"));
    let mut synced = outgoing(a, 2_000, "mine");
    synced.server_hash = Some("h-sync".into());
    assert_eq!(s.insert_message(&synced).unwrap(), Inserted::Duplicate);
    assert_eq!(s.message_by_hash("h-sync").unwrap().unwrap().id, out);

    // A deleted message stays deleted when polled again.
    s.delete_for_me(id).unwrap().unwrap();
    assert_eq!(
        s.insert_message(&incoming(a, 1_000, "h1", "first"))
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(
        s.insert_message(&incoming(a, 1_000, "h1-other", "first"))
            .unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(bodies(&s.history(&a, None, 10).unwrap()), ["mine"]);
}

pub fn invalid_input_is_refused(s: &dyn ClientStore) {
    let a = sid(1);
    let mut m = incoming(a, MAX_MS + 1, "h", "x");
    assert!(matches!(
        s.insert_message(&m),
        Err(StoreError::Invalid { .. })
    ));
    m.sent_ms = MAX_MS;
    m.received_ms = u64::MAX;
    assert!(matches!(
        s.insert_message(&m),
        Err(StoreError::Invalid { .. })
    ));
    m.received_ms = 1;
    m.server_hash = Some(String::new());
    assert!(matches!(
        s.insert_message(&m),
        Err(StoreError::Invalid { .. })
    ));
    assert!(s.conversation(&a).unwrap().is_none(), "nothing was stored");
    // The largest time is fine.
    m.server_hash = Some("h".into());
    let id = insert(s, &m);
    assert_eq!(s.message(id).unwrap().unwrap().sent_ms, MAX_MS);
    assert!(matches!(
        s.set_expiry(id, Some(u64::MAX)),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.set_last_hash(&a, &N1, 0, ""),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.set_server_hash(id, ""),
        Err(StoreError::Invalid { .. })
    ));
}

pub fn message_requests(s: &dyn ClientStore) {
    let (stranger, friend, mine) = (sid(1), sid(2), sid(3));
    let mut c = Contact::new(friend);
    c.approved = true;
    c.display_name = Some("Friend".into());
    s.upsert_contact(&c).unwrap();

    insert(s, &incoming(stranger, 1_000, "h1", "buy my stuff"));
    insert(s, &incoming(friend, 2_000, "h2", "hi"));
    insert(s, &outgoing(mine, 3_000, "hello there"));

    let accepted = s.conversations(ConversationKind::Accepted).unwrap();
    assert_eq!(peers(&accepted), [mine, friend]);
    assert_eq!(accepted[1].display_name.as_deref(), Some("Friend"));
    let requests = s.conversations(ConversationKind::Requests).unwrap();
    assert_eq!(peers(&requests), [stranger]);
    assert!(!requests[0].accepted);
    assert_eq!(requests[0].unread, 1);
    assert_eq!(requests[0].created_ms, 1_005);

    // An outgoing message does not accept an existing request by itself.
    insert(s, &outgoing(stranger, 4_000, "who are you?"));
    assert!(!s.conversation(&stranger).unwrap().unwrap().accepted);

    assert!(s.accept_request(&stranger).unwrap());
    assert!(s.contact(&stranger).unwrap().unwrap().approved);
    assert!(
        s.conversations(ConversationKind::Requests)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        peers(&s.conversations(ConversationKind::Accepted).unwrap()),
        [stranger, mine, friend]
    );
    assert!(!s.accept_request(&sid(9)).unwrap());
    assert!(s.contact(&sid(9)).unwrap().is_none());

    // Accepting keeps what was known about the contact.
    let mut other = Contact::new(sid(4));
    other.display_name = Some("Four".into());
    other.approved_me = true;
    s.upsert_contact(&other).unwrap();
    insert(s, &incoming(sid(4), 5_000, "h5", "knock knock"));
    assert!(!s.conversation(&sid(4)).unwrap().unwrap().accepted);
    assert!(s.accept_request(&sid(4)).unwrap());
    let got = s.contact(&sid(4)).unwrap().unwrap();
    assert!(got.approved && got.approved_me);
    assert_eq!(got.display_name.as_deref(), Some("Four"));

    // Opening a conversation: accepted, empty, idempotent.
    assert!(s.open_conversation(&sid(5), 7_000).unwrap());
    assert!(!s.open_conversation(&sid(5), 8_000).unwrap());
    let c5 = s.conversation(&sid(5)).unwrap().unwrap();
    assert!(c5.accepted);
    assert_eq!(
        (c5.unread, c5.created_ms, c5.last_message.clone()),
        (0, 7_000, None)
    );
    assert_eq!(c5.last_activity_ms(), 7_000);

    // Declining (deleting) a request; a later message makes a new request.
    let d = sid(6);
    insert(s, &incoming(d, 9_000, "h9", "spam"));
    assert_eq!(s.delete_conversation(&d).unwrap(), 1);
    assert!(s.conversation(&d).unwrap().is_none());
    assert!(s.history(&d, None, 10).unwrap().is_empty());
    assert_eq!(s.delete_conversation(&d).unwrap(), 0);
    assert_eq!(
        s.insert_message(&incoming(d, 9_000, "h9", "spam")).unwrap(),
        Inserted::Duplicate
    );
    insert(s, &incoming(d, 9_500, "h10", "spam again"));
    let again = s.conversation(&d).unwrap().unwrap();
    assert!(!again.accepted);
    assert_eq!(bodies(&s.history(&d, None, 10).unwrap()), ["spam again"]);
}

pub fn unread_and_mark_read(s: &dyn ClientStore) {
    let a = sid(1);
    let m1 = insert(s, &incoming(a, 1_000, "h1", "one"));
    insert(s, &outgoing(a, 1_500, "mine"));
    insert(s, &incoming(a, 2_000, "h2", "two"));
    let m3 = insert(s, &incoming(a, 3_000, "h3", "three"));
    insert(s, &incoming(sid(2), 2_500, "h4", "other"));
    let c = s.conversation(&a).unwrap().unwrap();
    assert_eq!(c.unread, 3);
    assert_eq!(c.last_message.unwrap().id, m3);

    let read = s.mark_read(&a, 2_000, 10_000).unwrap();
    assert_eq!(bodies(&read), ["one", "two"]);
    assert!(read.iter().all(|m| m.read));
    assert_eq!(s.conversation(&a).unwrap().unwrap().unread, 1);
    assert!(s.message(m1).unwrap().unwrap().read);
    assert!(s.mark_read(&a, 2_000, 10_000).unwrap().is_empty());
    assert_eq!(s.conversation(&sid(2)).unwrap().unwrap().unread, 1);

    let one = s.mark_message_read(m3, 11_000).unwrap().unwrap();
    assert_eq!(one.id, m3);
    assert!(one.read);
    assert_eq!(s.mark_message_read(m3, 11_000).unwrap(), None);
    assert_eq!(s.conversation(&a).unwrap().unwrap().unread, 0);
    assert_eq!(s.mark_message_read(MessageId(m3.0 + 100), 1).unwrap(), None);

    // Everything (u64::MAX = no bound), and deleted messages do not count.
    let m5 = insert(s, &incoming(a, 5_000, "h5", "five"));
    insert(s, &incoming(a, 6_000, "h6", "six"));
    s.delete_for_me(m5).unwrap();
    assert_eq!(s.conversation(&a).unwrap().unwrap().unread, 1);
    assert_eq!(bodies(&s.mark_read(&a, u64::MAX, 12_000).unwrap()), ["six"]);
    assert_eq!(s.conversation(&a).unwrap().unwrap().unread, 0);
}

pub fn read_receipts(s: &dyn ClientStore) {
    let a = sid(1);
    let o1 = insert(s, &outgoing(a, 1_000, "one"));
    let o2 = insert(s, &outgoing(a, 2_000, "two"));
    let i1 = insert(s, &incoming(a, 1_500, "h", "theirs"));
    insert(s, &outgoing(sid(2), 1_000, "elsewhere"));
    assert_eq!(s.apply_read_receipt(&a, &[1_000, 1_500, 7_777]).unwrap(), 1);
    assert!(s.message(o1).unwrap().unwrap().peer_read);
    assert!(!s.message(o2).unwrap().unwrap().peer_read);
    assert!(!s.message(i1).unwrap().unwrap().peer_read);
    let other = s.history(&sid(2), None, 1).unwrap();
    assert!(!other[0].peer_read);
    assert_eq!(s.apply_read_receipt(&a, &[1_000, 2_000]).unwrap(), 1);
    assert_eq!(s.apply_read_receipt(&a, &[]).unwrap(), 0);
}

pub fn history_pages(s: &dyn ClientStore) {
    let a = sid(1);
    // Out of order, with a tie on sent time.
    for (t, body) in [
        (5_000, "e"),
        (1_000, "a"),
        (3_000, "c"),
        (3_000, "c2"),
        (2_000, "b"),
    ] {
        let mut m = incoming(a, t, &format!("h{body}"), body);
        if body == "c2" {
            m = outgoing(a, t, body);
        }
        insert(s, &m);
    }
    insert(s, &incoming(sid(2), 4_000, "hx", "x"));
    let all = s.history(&a, None, 100).unwrap();
    assert_eq!(bodies(&all), ["a", "b", "c", "c2", "e"]);
    assert!(s.history(&a, None, 0).unwrap().is_empty());
    let last2 = s.history(&a, None, 2).unwrap();
    assert_eq!(bodies(&last2), ["c2", "e"]);
    let page = s.history(&a, Some(last2[0].cursor()), 2).unwrap();
    assert_eq!(bodies(&page), ["b", "c"]);
    let page = s.history(&a, Some(page[0].cursor()), 2).unwrap();
    assert_eq!(bodies(&page), ["a"]);
    assert!(s.history(&a, Some(page[0].cursor()), 2).unwrap().is_empty());
    assert!(s.history(&sid(9), None, 10).unwrap().is_empty());
    // Deleted messages leave history.
    s.delete_for_me(all[2].id).unwrap();
    assert_eq!(
        bodies(&s.history(&a, None, 100).unwrap()),
        ["a", "b", "c2", "e"]
    );
    assert_eq!(
        s.conversation(&a)
            .unwrap()
            .unwrap()
            .last_message
            .unwrap()
            .body,
        "e"
    );
}

pub fn delete_for_me(s: &dyn ClientStore) {
    let a = sid(1);
    let id = insert(s, &incoming(a, 1_000, "h1", "secret"));
    let gone = s.delete_for_me(id).unwrap().unwrap();
    assert_eq!(gone.body, "secret");
    assert_eq!(gone.server_hash.as_deref(), Some("h1"));
    assert_eq!(s.delete_for_me(id).unwrap(), None);
    assert_eq!(s.message(id).unwrap(), None);
    assert_eq!(s.message_by_hash("h1").unwrap(), None);
    assert!(!s.set_expiry(id, Some(5)).unwrap());
    assert!(!s.set_server_hash(id, "h-new").unwrap());
    assert_eq!(s.mark_message_read(id, 5).unwrap(), None);
    let c = s.conversation(&a).unwrap().unwrap();
    assert_eq!((c.unread, c.last_message.clone()), (0, None));
    assert_eq!(c.last_activity_ms(), 1_005);
}

pub fn attachments_are_kept(s: &dyn ClientStore) {
    let a = sid(1);
    let pointer = crate::attachments::Attachment {
        url: "http://127.0.0.1:1/file/77#d".into(),
        id: 77,
        key: vec![5; 32],
        digest: Some(vec![6; 32]),
        size: 1234,
        content_type: Some("image/png".into()),
        file_name: Some("cat.png".into()),
    };
    let mut m = incoming(a, 1_000, "h-att", "");
    m.attachments = vec![pointer.clone()];
    let id = insert(s, &m);
    assert_eq!(s.message(id).unwrap().unwrap().attachments, vec![pointer]);
    let plain = insert(s, &incoming(a, 2_000, "h-plain", "text"));
    assert!(s.message(plain).unwrap().unwrap().attachments.is_empty());
    // Deleting the message forgets the pointer (the key with it).
    let gone = s.delete_for_me(id).unwrap().unwrap();
    assert_eq!(gone.attachments.len(), 1);
    assert_eq!(s.message(id).unwrap(), None);
}

pub fn unsend(s: &dyn ClientStore) {
    let (a, b) = (sid(1), sid(2));
    insert(s, &incoming(a, 1_000, "h1", "oops"));
    insert(s, &incoming(a, 2_000, "h2", "fine"));
    let mine = insert(s, &outgoing(b, 1_000, "mine"));
    s.set_server_hash(mine, "h-mine").unwrap();

    let gone = s.apply_unsend(&a, 1_000, 50_000).unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].server_hash.as_deref(), Some("h1"));
    assert_eq!(gone[0].body, "oops");
    assert_eq!(bodies(&s.history(&a, None, 10).unwrap()), ["fine"]);
    assert_eq!(s.message_by_hash("h1").unwrap(), None);
    // Our own message at the same time is not theirs.
    assert!(s.message(mine).unwrap().is_some());
    // Unsending our own (delete for everyone): the hash to delete from the swarm.
    let gone = s.apply_unsend(&me(), 1_000, 50_000).unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].server_hash.as_deref(), Some("h-mine"));
    // Again: nothing left.
    assert!(s.apply_unsend(&a, 1_000, 50_000).unwrap().is_empty());

    // The unsend arrives before the message: the message is never stored.
    assert!(s.apply_unsend(&a, 3_000, 50_000).unwrap().is_empty());
    assert_eq!(
        s.insert_message(&incoming(a, 3_000, "h3", "late")).unwrap(),
        Inserted::Unsent
    );
    assert_eq!(bodies(&s.history(&a, None, 10).unwrap()), ["fine"]);
    assert!(!Inserted::Unsent.is_new());
}

pub fn forget_deleted(s: &dyn ClientStore) {
    let a = sid(1);
    // received 1_005 and 2_005
    let m1 = insert(s, &incoming(a, 1_000, "h1", "one"));
    let m2 = insert(s, &incoming(a, 2_000, "h2", "two"));
    insert(s, &incoming(a, 3_000, "h3", "three"));
    s.delete_for_me(m1).unwrap();
    s.delete_for_me(m2).unwrap();
    s.apply_unsend(&a, 9_000, 1_500).unwrap();
    s.apply_unsend(&a, 9_001, 2_500).unwrap();
    // Tombstone m1 (received 1_005) and the unsend at 1_500 are older than 2_000.
    assert_eq!(s.forget_deleted(2_000).unwrap(), 2);
    assert!(
        s.insert_message(&incoming(a, 1_000, "h1", "one"))
            .unwrap()
            .is_new()
    );
    assert_eq!(
        s.insert_message(&incoming(a, 2_000, "h2", "two")).unwrap(),
        Inserted::Duplicate
    );
    assert!(
        s.insert_message(&incoming(a, 9_000, "h9", "n"))
            .unwrap()
            .is_new()
    );
    assert_eq!(
        s.insert_message(&incoming(a, 9_001, "h9b", "n")).unwrap(),
        Inserted::Unsent
    );
    // Live messages are never forgotten.
    assert_eq!(s.forget_deleted(u64::MAX).unwrap(), 2);
    assert_eq!(
        bodies(&s.history(&a, None, 10).unwrap()),
        ["one", "three", "n"]
    );
}

pub fn disappearing_settings(s: &dyn ClientStore) {
    let a = sid(1);
    assert!(!s.set_disappearing(&a, Some(AFTER_SEND_30)).unwrap());
    assert_eq!(s.disappearing(&a).unwrap(), None);
    s.open_conversation(&a, 1).unwrap();
    assert_eq!(s.disappearing(&a).unwrap(), None);
    assert!(s.set_disappearing(&a, Some(AFTER_SEND_30)).unwrap());
    assert_eq!(s.disappearing(&a).unwrap(), Some(AFTER_SEND_30));
    assert!(s.set_disappearing(&a, Some(AFTER_READ_60)).unwrap());
    assert_eq!(
        s.conversation(&a).unwrap().unwrap().disappearing,
        Some(AFTER_READ_60)
    );
    let big = Expiry {
        mode: ExpiryMode::AfterSend,
        seconds: u32::MAX,
    };
    assert!(s.set_disappearing(&a, Some(big)).unwrap());
    assert_eq!(s.disappearing(&a).unwrap(), Some(big));
    assert!(s.set_disappearing(&a, None).unwrap());
    assert_eq!(s.disappearing(&a).unwrap(), None);
    assert_eq!(s.conversation(&a).unwrap().unwrap().disappearing, None);
    assert_eq!(ExpiryMode::from_wire(1), Some(ExpiryMode::AfterRead));
    assert_eq!(ExpiryMode::from_wire(2), Some(ExpiryMode::AfterSend));
    assert_eq!(ExpiryMode::from_wire(0), None);
    assert_eq!(ExpiryMode::AfterSend.wire(), 2);
}

pub fn message_expiry(s: &dyn ClientStore) {
    let a = sid(1);
    // After-send: from the sent time.
    let mut m = incoming(a, 1_000, "h1", "after send");
    m.expiry = Some(AFTER_SEND_30);
    let send = insert(s, &m);
    let got = s.message(send).unwrap().unwrap();
    assert_eq!(got.expiry, Some(AFTER_SEND_30));
    assert_eq!(got.expires_at_ms, Some(31_000));
    // After-read, incoming: not started until read.
    let mut m = incoming(a, 2_000, "h2", "after read");
    m.expiry = Some(AFTER_READ_60);
    let read = insert(s, &m);
    assert_eq!(s.message(read).unwrap().unwrap().expires_at_ms, None);
    // After-read, outgoing: read by its sender, so from the sent time.
    let mut m = outgoing(a, 3_000, "mine after read");
    m.expiry = Some(AFTER_READ_60);
    let own = insert(s, &m);
    assert_eq!(s.message(own).unwrap().unwrap().expires_at_ms, Some(63_000));
    // Never expires.
    let plain = insert(s, &incoming(a, 4_000, "h4", "plain"));

    let marked = s.mark_read(&a, u64::MAX, 10_000).unwrap();
    assert_eq!(bodies(&marked), ["after send", "after read", "plain"]);
    assert_eq!(
        marked[0].expires_at_ms,
        Some(31_000),
        "after-send unchanged"
    );
    assert_eq!(marked[1].expires_at_ms, Some(70_000), "read at 10 s + 60 s");
    assert_eq!(marked[2].expires_at_ms, None);
    assert_eq!(
        s.message(read).unwrap().unwrap().expires_at_ms,
        Some(70_000)
    );

    assert!(s.delete_expired(30_999).unwrap().is_empty());
    let gone = s.delete_expired(31_000).unwrap();
    assert_eq!(bodies(&gone), ["after send"]);
    assert_eq!(gone[0].server_hash.as_deref(), Some("h1"));
    assert!(s.delete_expired(31_000).unwrap().is_empty());
    let gone = s.delete_expired(100_000).unwrap();
    assert_eq!(bodies(&gone), ["after read", "mine after read"]);
    assert_eq!(bodies(&s.history(&a, None, 10).unwrap()), ["plain"]);
    // An expired message polled again stays gone.
    let mut m = incoming(a, 1_000, "h1", "after send");
    m.expiry = Some(AFTER_SEND_30);
    assert_eq!(s.insert_message(&m).unwrap(), Inserted::Duplicate);

    // Explicit expiry (e.g. the swarm's shortened one), and clearing it.
    assert!(s.set_expiry(plain, Some(200_000)).unwrap());
    assert_eq!(
        s.message(plain).unwrap().unwrap().expires_at_ms,
        Some(200_000)
    );
    assert!(s.set_expiry(plain, None).unwrap());
    assert!(s.delete_expired(MAX_MS).unwrap().is_empty());
    assert!(s.set_expiry(plain, Some(MAX_MS)).unwrap());
    assert_eq!(bodies(&s.delete_expired(u64::MAX).unwrap()), ["plain"]);

    // Expiry computations are capped at MAX_MS.
    let mut m = incoming(a, MAX_MS - 5, "h-late", "late");
    m.expiry = Some(AFTER_SEND_30);
    let late = insert(s, &m);
    assert_eq!(
        s.message(late).unwrap().unwrap().expires_at_ms,
        Some(MAX_MS)
    );
    let mut m = incoming(a, 7_000, "h-late-read", "late read");
    m.expiry = Some(AFTER_READ_60);
    let late_read = insert(s, &m);
    let r = s.mark_message_read(late_read, u64::MAX).unwrap().unwrap();
    assert_eq!(r.expires_at_ms, Some(MAX_MS));
}

pub fn contacts(s: &dyn ClientStore) {
    assert!(s.contacts().unwrap().is_empty());
    assert_eq!(s.contact(&sid(1)).unwrap(), None);
    let mut c = Contact::new(sid(2));
    c.display_name = Some("Bob".into());
    c.profile_pic = Some(ProfilePicture {
        url: "http://files.example/file/abc".into(),
        key: vec![7; 32],
    });
    c.approved = true;
    s.upsert_contact(&c).unwrap();
    let mut d = Contact::new(sid(1));
    d.blocked = true;
    d.approved_me = true;
    s.upsert_contact(&d).unwrap();
    assert_eq!(s.contact(&sid(2)).unwrap(), Some(c.clone()));
    assert_eq!(s.contacts().unwrap(), [d.clone(), c.clone()]);
    // Replace: every field, including clearing.
    c.display_name = None;
    c.profile_pic = None;
    c.approved = false;
    c.blocked = true;
    s.upsert_contact(&c).unwrap();
    assert_eq!(s.contact(&sid(2)).unwrap(), Some(c.clone()));
    assert_eq!(s.contacts().unwrap().len(), 2);
    // Debug never shows the profile key.
    let mut e = Contact::new(sid(3));
    e.profile_pic = Some(ProfilePicture {
        url: "u".into(),
        key: vec![0xab; 32],
    });
    assert!(!format!("{e:?}").contains("171"));
    // Names show in conversations.
    let mut named = Contact::new(sid(4));
    named.display_name = Some("Dee".into());
    s.upsert_contact(&named).unwrap();
    insert(s, &outgoing(sid(4), 1, "hi"));
    assert_eq!(
        s.conversation(&sid(4))
            .unwrap()
            .unwrap()
            .display_name
            .as_deref(),
        Some("Dee")
    );
}

/// Two polled nodes' keys.
const N1: [u8; 32] = [1; 32];
const N2: [u8; 32] = [2; 32];

pub fn poll_state(s: &dyn ClientStore) {
    let group = AccountId::new(IdPrefix::Group, [1; 32]);
    assert_eq!(s.last_hash(&me(), &N1, 0).unwrap(), None);
    s.set_last_hash(&me(), &N1, 0, "hash-0").unwrap();
    s.set_last_hash(&me(), &N1, -10, "hash-neg").unwrap();
    s.set_last_hash(&group, &N1, 0, "hash-g").unwrap();
    assert_eq!(
        s.last_hash(&me(), &N1, 0).unwrap().as_deref(),
        Some("hash-0")
    );
    assert_eq!(
        s.last_hash(&me(), &N1, -10).unwrap().as_deref(),
        Some("hash-neg")
    );
    assert_eq!(
        s.last_hash(&group, &N1, 0).unwrap().as_deref(),
        Some("hash-g")
    );
    assert_eq!(s.last_hash(&me(), &N1, 1).unwrap(), None);
    // Per node: another member of the swarm has its own position.
    assert_eq!(s.last_hash(&me(), &N2, 0).unwrap(), None);
    s.set_last_hash(&me(), &N2, 0, "at-n2").unwrap();
    assert_eq!(
        s.last_hash(&me(), &N2, 0).unwrap().as_deref(),
        Some("at-n2")
    );
    assert_eq!(
        s.last_hash(&me(), &N1, 0).unwrap().as_deref(),
        Some("hash-0")
    );
    s.set_last_hash(&me(), &N1, 0, "hash-1").unwrap();
    assert_eq!(
        s.last_hash(&me(), &N1, 0).unwrap().as_deref(),
        Some("hash-1")
    );
    s.set_last_hash(&me(), &N1, i16::MIN, "min").unwrap();
    s.set_last_hash(&me(), &N1, i16::MAX, "max").unwrap();
    assert_eq!(
        s.last_hash(&me(), &N1, i16::MIN).unwrap().as_deref(),
        Some("min")
    );
    assert_eq!(
        s.last_hash(&me(), &N1, i16::MAX).unwrap().as_deref(),
        Some("max")
    );
}

pub fn rejected_counter(s: &dyn ClientStore) {
    assert_eq!(s.rejected_counts().unwrap(), RejectedCounts::default());
    assert_eq!(s.record_rejected(RejectReason::BadSignature).unwrap(), 1);
    assert_eq!(s.record_rejected(RejectReason::BadSignature).unwrap(), 2);
    assert_eq!(s.record_rejected(RejectReason::Malformed).unwrap(), 1);
    let c = s.rejected_counts().unwrap();
    assert_eq!(
        c,
        RejectedCounts {
            bad_signature: 2,
            not_for_us: 0,
            malformed: 1
        }
    );
    assert_eq!(c.total(), 3);
    assert_eq!(c.get(RejectReason::NotForUs), 0);
    assert_eq!(s.record_rejected(RejectReason::NotForUs).unwrap(), 1);
    assert_eq!(s.rejected_counts().unwrap().total(), 4);
}

pub fn inbox_order(s: &dyn ClientStore) {
    let (a, b, c) = (sid(1), sid(2), sid(3));
    s.open_conversation(&a, 100).unwrap();
    insert(s, &outgoing(b, 50, "old"));
    insert(s, &outgoing(c, 200, "new"));
    s.open_conversation(&sid(4), 200).unwrap();
    let list = s.conversations(ConversationKind::Accepted).unwrap();
    // Newest first; equal activity by peer.
    assert_eq!(peers(&list), [c, sid(4), a, b]);
    insert(s, &outgoing(a, 300, "newest"));
    let list = s.conversations(ConversationKind::Accepted).unwrap();
    assert_eq!(peers(&list), [a, c, sid(4), b]);
    assert_eq!(list[0].last_message.as_ref().unwrap().body, "newest");
}

pub fn debug_hides_bodies(s: &dyn ClientStore) {
    let id = insert(s, &incoming(sid(1), 1, "h", "very secret words"));
    let m = s.message(id).unwrap().unwrap();
    assert!(!format!("{m:?}").contains("secret"));
    assert!(!format!("{:?}", incoming(sid(1), 1, "h", "very secret words")).contains("secret"));
    let c = s.conversation(&sid(1)).unwrap().unwrap();
    assert!(!format!("{c:?}").contains("secret"));
}

/// Every store is usable from several threads at once.
pub fn concurrent_use(s: &dyn ClientStore) {
    std::thread::scope(|scope| {
        for t in 1..=4u8 {
            scope.spawn(move || {
                for i in 0..25u64 {
                    let m = incoming(sid(t), i, &format!("h{t}-{i}"), "x");
                    assert!(s.insert_message(&m).unwrap().is_new());
                    s.record_rejected(RejectReason::Malformed).unwrap();
                }
            });
        }
    });
    for t in 1..=4u8 {
        assert_eq!(s.conversation(&sid(t)).unwrap().unwrap().unread, 25);
    }
    assert_eq!(s.rejected_counts().unwrap().malformed, 100);
}

// ---- communities ----

const SERVER: &str = "http://127.0.0.1:8080";

fn new_room(token: &str) -> NewCommunity {
    NewCommunity {
        base_url: SERVER.into(),
        pubkey: [7; 32],
        direct: true,
        blinded: Some(true),
        token: token.into(),
        name: format!("Room {token}"),
        info_updates: 3,
    }
}

fn blinded(n: u8) -> AccountId {
    AccountId::new(IdPrefix::Blinded15, [n; 32])
}

fn room_message(token: &str, id: u64, body: &str) -> CommunityMessage {
    CommunityMessage {
        attachments: Vec::new(),
        base_url: SERVER.into(),
        room: token.into(),
        id,
        seqno: id,
        sender: blinded(1),
        posted_ms: 1_000 + id,
        edited_ms: None,
        sent_ms: Some(999 + id),
        body: body.into(),
        display_name: Some("Alice".into()),
        status: MessageStatus::Valid,
        deleted: false,
        reactions: Vec::new(),
    }
}

fn dm(id: u64, direction: DmDirection, posted_ms: u64, body: &str) -> CommunityDmRecord {
    CommunityDmRecord {
        base_url: SERVER.into(),
        id,
        direction,
        peer: blinded(2),
        sender_session_id: Some(sid(2)),
        posted_ms,
        body: body.into(),
        display_name: None,
        status: MessageStatus::Valid,
    }
}

pub fn community_join_update_leave(s: &dyn ClientStore) {
    assert!(s.communities().unwrap().is_empty());
    assert!(s.join_community(&new_room("lobby"), 50).unwrap());
    assert!(s.join_community(&new_room("dev"), 60).unwrap());
    let c = s.community(SERVER, "lobby").unwrap().unwrap();
    assert_eq!(
        c,
        Community {
            base_url: SERVER.into(),
            pubkey: [7; 32],
            direct: true,
            blinded: Some(true),
            token: "lobby".into(),
            name: "Room lobby".into(),
            info_updates: 3,
            seqno: 0,
            inbox_since: 0,
            outbox_since: 0,
            joined_ms: 50,
        }
    );
    let tokens: Vec<String> = s
        .communities()
        .unwrap()
        .into_iter()
        .map(|c| c.token)
        .collect();
    assert_eq!(tokens, ["dev", "lobby"]);

    let update = CommunityUpdate {
        name: Some("Lobby".into()),
        info_updates: None,
        seqno: Some(42),
    };
    assert!(s.update_community(SERVER, "lobby", &update).unwrap());
    assert!(!s.update_community(SERVER, "nope", &update).unwrap());
    assert!(s.set_community_dm_cursors(SERVER, Some(5), None).unwrap());
    assert!(s.set_community_dm_cursors(SERVER, None, Some(9)).unwrap());
    assert!(
        !s.set_community_dm_cursors("http://other.example", Some(1), None)
            .unwrap()
    );
    assert!(s.set_community_blinded(SERVER, false).unwrap());
    let c = s.community(SERVER, "lobby").unwrap().unwrap();
    assert_eq!(
        (
            c.name.as_str(),
            c.info_updates,
            c.seqno,
            c.inbox_since,
            c.outbox_since,
            c.blinded
        ),
        ("Lobby", 3, 42, 5, 9, Some(false))
    );
    // The server state is shared by its rooms.
    let dev = s.community(SERVER, "dev").unwrap().unwrap();
    assert_eq!((dev.inbox_since, dev.outbox_since, dev.seqno), (5, 9, 0));

    // Joining again keeps the poll state; a route change is remembered.
    let mut again = new_room("lobby");
    again.direct = false;
    again.blinded = None;
    assert!(!s.join_community(&again, 70).unwrap());
    let c = s.community(SERVER, "lobby").unwrap().unwrap();
    assert_eq!(
        (c.seqno, c.direct, c.joined_ms, c.blinded),
        (42, false, 50, Some(false))
    );
    assert_eq!(c.name, "Room lobby");

    // A new server key resets the DM cursors.
    let mut rekeyed = new_room("lobby");
    rekeyed.pubkey = [8; 32];
    s.join_community(&rekeyed, 80).unwrap();
    let c = s.community(SERVER, "lobby").unwrap().unwrap();
    assert_eq!((c.pubkey, c.inbox_since, c.outbox_since), ([8; 32], 0, 0));

    assert!(s.leave_community(SERVER, "lobby").unwrap());
    assert!(!s.leave_community(SERVER, "lobby").unwrap());
    assert!(s.community(SERVER, "lobby").unwrap().is_none());
    assert!(s.community(SERVER, "dev").unwrap().is_some());
    assert!(s.leave_community(SERVER, "dev").unwrap());
    assert!(s.communities().unwrap().is_empty());
    assert!(!s.set_community_blinded(SERVER, true).unwrap());
}

pub fn community_messages(s: &dyn ClientStore) {
    // Not joined: ignored.
    s.save_community_message(&room_message("lobby", 1, "lost"))
        .unwrap();
    assert!(s.community_message(SERVER, "lobby", 1).unwrap().is_none());

    s.join_community(&new_room("lobby"), 1).unwrap();
    s.join_community(&new_room("dev"), 1).unwrap();
    for id in 1..=5 {
        s.save_community_message(&room_message("lobby", id, &format!("m{id}")))
            .unwrap();
    }
    s.save_community_message(&room_message("dev", 3, "elsewhere"))
        .unwrap();
    let all = s.community_messages(SERVER, "lobby", 10).unwrap();
    assert_eq!(
        all.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["m1", "m2", "m3", "m4", "m5"]
    );
    assert_eq!(all[0], room_message("lobby", 1, "m1"));
    let last = s.community_messages(SERVER, "lobby", 2).unwrap();
    assert_eq!(last.iter().map(|m| m.id).collect::<Vec<_>>(), [4, 5]);

    // A newer version replaces the old one; deleted ones are not listed.
    let mut edited = room_message("lobby", 2, "m2 edited");
    edited.seqno = 10;
    edited.edited_ms = Some(5_000);
    edited.status = MessageStatus::BadSignature;
    s.save_community_message(&edited).unwrap();
    assert_eq!(
        s.community_message(SERVER, "lobby", 2).unwrap().unwrap(),
        edited
    );
    let mut gone = room_message("lobby", 3, "");
    gone.deleted = true;
    s.save_community_message(&gone).unwrap();
    let ids: Vec<u64> = s
        .community_messages(SERVER, "lobby", 10)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, [1, 2, 4, 5]);
    assert!(
        s.community_message(SERVER, "lobby", 3)
            .unwrap()
            .unwrap()
            .deleted
    );

    let reactions = vec![
        CommunityReaction {
            emoji: "👍".into(),
            count: 2,
            you: true,
            reactors: vec![blinded(1).to_string(), blinded(2).to_string()],
        },
        CommunityReaction {
            emoji: "🍆".into(),
            count: 1,
            you: false,
            reactors: Vec::new(),
        },
    ];
    assert!(
        s.set_community_reactions(SERVER, "lobby", 4, 11, &reactions)
            .unwrap()
    );
    assert!(
        !s.set_community_reactions(SERVER, "lobby", 99, 11, &reactions)
            .unwrap()
    );
    let m = s.community_message(SERVER, "lobby", 4).unwrap().unwrap();
    assert_eq!((m.seqno, m.reactions), (11, reactions));

    // Leaving drops the room's messages only.
    s.leave_community(SERVER, "lobby").unwrap();
    assert!(
        s.community_messages(SERVER, "lobby", 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.community_messages(SERVER, "dev", 10).unwrap().len(), 1);
    assert!(!format!("{:?}", room_message("dev", 1, "very secret words")).contains("secret"));
}

pub fn community_dms(s: &dyn ClientStore) {
    // Unknown server: ignored.
    assert!(
        !s.save_community_dm(&dm(1, DmDirection::Inbox, 10, "lost"))
            .unwrap()
    );
    s.join_community(&new_room("lobby"), 1).unwrap();
    assert!(
        s.save_community_dm(&dm(1, DmDirection::Inbox, 30, "in 1"))
            .unwrap()
    );
    assert!(
        !s.save_community_dm(&dm(1, DmDirection::Inbox, 30, "again"))
            .unwrap()
    );
    assert!(
        s.save_community_dm(&dm(1, DmDirection::Outbox, 20, "out 1"))
            .unwrap()
    );
    let mut bad = dm(2, DmDirection::Inbox, 40, "");
    bad.status = MessageStatus::Malformed;
    bad.sender_session_id = None;
    assert!(s.save_community_dm(&bad).unwrap());
    let list = s.community_dms(SERVER, 10).unwrap();
    assert_eq!(
        list.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["out 1", "in 1", ""]
    );
    assert_eq!(list[2], bad);
    assert_eq!(s.community_dms(SERVER, 1).unwrap()[0].id, 2);
    assert!(!format!("{:?}", dm(3, DmDirection::Inbox, 1, "very secret words")).contains("secret"));
    // The last room of the server takes its DMs along.
    s.leave_community(SERVER, "lobby").unwrap();
    assert!(s.community_dms(SERVER, 10).unwrap().is_empty());
}

pub fn community_numbers_are_checked(s: &dyn ClientStore) {
    s.join_community(&new_room("lobby"), 1).unwrap();
    let mut m = room_message("lobby", 1, "x");
    m.id = u64::MAX;
    assert!(s.save_community_message(&m).is_err());
    m.id = 1;
    m.posted_ms = u64::MAX;
    assert!(s.save_community_message(&m).is_err());
    let update = CommunityUpdate {
        seqno: Some(u64::MAX),
        ..CommunityUpdate::default()
    };
    assert!(s.update_community(SERVER, "lobby", &update).is_err());
    assert!(
        s.set_community_dm_cursors(SERVER, Some(u64::MAX), None)
            .is_err()
    );
    assert!(
        s.community_messages(SERVER, "lobby", 10)
            .unwrap()
            .is_empty()
    );
}

macro_rules! conformance {
    ($backend:ident, $make:expr, [$($check:ident),* $(,)?]) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $check() {
                    let (s, _guard) = $make;
                    super::$check(&s);
                }
            )*
        }
    };
}

macro_rules! all_checks {
    ($backend:ident, $make:expr) => {
        conformance!(
            $backend,
            $make,
            [
                insert_and_get,
                duplicates_are_ignored,
                invalid_input_is_refused,
                message_requests,
                unread_and_mark_read,
                read_receipts,
                history_pages,
                delete_for_me,
                attachments_are_kept,
                unsend,
                forget_deleted,
                disappearing_settings,
                message_expiry,
                contacts,
                poll_state,
                rejected_counter,
                inbox_order,
                debug_hides_bodies,
                concurrent_use,
                community_join_update_leave,
                community_messages,
                community_dms,
                community_numbers_are_checked,
            ]
        );
    };
}

all_checks!(memory_backend, (MemoryStore::new(), ()));
all_checks!(sqlite_backend, {
    let dir = tempfile::tempdir().unwrap();
    (SqliteStore::open(dir.path()).unwrap(), dir)
});
