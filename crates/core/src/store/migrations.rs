//! The schema, as numbered migrations. **Append only**: a migration that has shipped is never
//! edited, because databases in the field have already run it. `PRAGMA user_version` holds how
//! many have been applied.
//!
//! The ledger table is append-only in SQL too: triggers refuse deleting an event or changing any
//! column the hash chain covers. Only the payload columns may be redacted (erasure), and the
//! payload's hash stays, so `consent verify` still passes after an erasure.

pub const MIGRATIONS: &[&str] = &[
    // 1: contacts, the consent ledger, suppression, settings.
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- One row: this installation's random salt for hashing numbers on the suppression list.
CREATE TABLE installation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    salt       BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY,
    phone          TEXT NOT NULL UNIQUE,          -- E.164
    phone_hash     BLOB NOT NULL,                 -- salted hash; joins suppressions (by its key)
    wa_id          TEXT,                          -- WhatsApp's id; may differ from the number
    bsuid          TEXT,                          -- business-scoped user id, when Meta sends one
    name           TEXT NOT NULL DEFAULT '',
    -- Materialised from the ledger (the latest event per subject); `consent verify` re-derives
    -- and compares them. NULL consent = no record = unknown.
    marketing      TEXT CHECK (marketing = 'opted_in' OR marketing = 'opted_out'),
    utility        TEXT CHECK (utility = 'opted_in' OR utility = 'opted_out'),
    meta_blocked   INTEGER NOT NULL DEFAULT 0 CHECK (meta_blocked = 0 OR meta_blocked = 1),
    unreachable    INTEGER NOT NULL DEFAULT 0 CHECK (unreachable = 0 OR unreachable = 1),
    review_pending INTEGER NOT NULL DEFAULT 0 CHECK (review_pending = 0 OR review_pending = 1),
    -- When the last marketing message went out (the frequency cap); written by sends.
    last_marketing_at TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX contacts_wa_id ON contacts (wa_id) WHERE wa_id IS NOT NULL;
CREATE INDEX contacts_bsuid ON contacts (bsuid) WHERE bsuid IS NOT NULL;

CREATE TABLE contact_tags (
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX contact_tags_by_tag ON contact_tags (tag, contact_id);

-- The consent ledger. Ids follow recording order and the hash chain follows the ids.
CREATE TABLE consent_events (
    -- Checks are written as OR chains, not `IN (...)`: SQLite builds a temporary table for an
    -- IN list on every row it checks, which made a 100,000-row import a second slower.
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    subject       TEXT NOT NULL CHECK (subject = 'marketing' OR subject = 'utility'
                    OR subject = 'meta_blocked' OR subject = 'unreachable'
                    OR subject = 'review_pending'),
    state         TEXT NOT NULL CHECK (state = 'opted_in' OR state = 'opted_out'
                    OR state = 'set' OR state = 'cleared'),
    source_kind   TEXT NOT NULL CHECK (source_kind = 'owner_toggle' OR source_kind = 'import'
                    OR source_kind = 'web_form' OR source_kind = 'in_store'
                    OR source_kind = 'paper_form' OR source_kind = 'phone_call'
                    OR source_kind = 'keyword' OR source_kind = 'button'
                    OR source_kind = 'meta_signal' OR source_kind = 'signup'
                    OR source_kind = 'api'),
    actor         TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,                  -- when the customer did it
    recorded_at   TEXT NOT NULL,                  -- when OptDesk wrote it
    -- Payload: personal data, redactable on erasure. payload_hash covers exactly these.
    phone         TEXT,
    source_detail TEXT,
    proof         TEXT,
    evidence_ref  TEXT,
    redacted_at   TEXT,
    payload_hash  BLOB NOT NULL,
    -- hash(previous event's chain_hash, payload_hash, every column above but the payload)
    chain_hash    BLOB NOT NULL
) STRICT;
CREATE INDEX consent_events_by_contact ON consent_events (contact_id, subject, id);

CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consent_events_no_rewrite BEFORE UPDATE OF id, contact_id, subject, state,
    source_kind, actor, occurred_at, recorded_at, payload_hash, chain_hash
    ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- The chain's head, so that cutting events off the end is detected too.
CREATE TABLE ledger_head (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL,
    chain_hash    BLOB NOT NULL,
    event_count   INTEGER NOT NULL
) STRICT;

-- Numbers that must never be messaged or opted in again: salted hashes only, so an erased
-- person's number is not kept in the clear.
CREATE TABLE suppressions (
    phone_hash    BLOB PRIMARY KEY,
    reason        TEXT NOT NULL CHECK (reason = 'opted_out' OR reason = 'erased'
                    OR reason = 'unmatched_opt_out'),
    source_kind   TEXT,
    suppressed_at TEXT NOT NULL
) STRICT;
"#,
    // 2: a record of every import run, so each imported consent points at the file it came from.
    r#"
CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    file_name   TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    actor       TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    added       INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    blocked     INTEGER NOT NULL,
    rejected    INTEGER NOT NULL
) STRICT;
"#,
    // 3: message templates as synced from WhatsApp (and submitted from OptDesk).
    r#"
CREATE TABLE templates (
    id               INTEGER PRIMARY KEY,
    wa_template_id   TEXT,                  -- Meta's id for this name + language
    name             TEXT NOT NULL,
    language         TEXT NOT NULL,
    category         TEXT NOT NULL,
    status           TEXT NOT NULL,         -- APPROVED, PENDING, REJECTED, PAUSED…
    quality          TEXT,
    parameter_format TEXT,
    components       TEXT NOT NULL,         -- JSON, exactly as Meta returned it
    rejected_reason  TEXT,
    synced_at        TEXT,
    -- Gone from Meta's side at the last sync. Kept, not dropped: broadcasts point at it.
    deleted_at       TEXT,
    UNIQUE (name, language)
) STRICT;
"#,
    // 4: the webhook receiver: every verified body kept before its 200, inbound messages and
    // statuses seen (so duplicates change nothing), OptDesk's own replies, the review queue.
    r#"
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    received_at  TEXT NOT NULL,
    body         BLOB NOT NULL,             -- the exact bytes whose signature was checked
    processed_at TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT                       -- why the last processing failed (kept for retry)
) STRICT;
CREATE INDEX inbox_unprocessed ON inbox (id) WHERE processed_at IS NULL;

CREATE TABLE inbound_messages (
    wamid        TEXT PRIMARY KEY,
    inbox_id     INTEGER NOT NULL REFERENCES inbox (id),
    contact_id   INTEGER REFERENCES contacts (id),
    from_wa_id   TEXT,
    from_user_id TEXT,
    kind         TEXT NOT NULL,             -- text, button, interactive, system…
    text         TEXT,
    sent_at      TEXT NOT NULL,             -- the message's own timestamp
    verdict      TEXT,                      -- opt-out, opt-in, help, review, none
    matched      TEXT
) STRICT;

CREATE TABLE message_statuses (
    wamid        TEXT NOT NULL,
    status       TEXT NOT NULL,
    recipient    TEXT,
    error_code   INTEGER,
    callback_data TEXT,
    occurred_at  TEXT,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (wamid, status)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_statuses_errors ON message_statuses (error_code, received_at)
    WHERE error_code IS NOT NULL;

-- Replies OptDesk sends by itself: at most one per inbound message.
CREATE TABLE outbound_messages (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind = 'optout_confirmation' OR kind = 'help_reply'),
    contact_id      INTEGER REFERENCES contacts (id),
    to_number       TEXT,                   -- wa_id digits
    in_reply_to     TEXT NOT NULL UNIQUE,   -- the inbound wamid
    optout_event_id INTEGER REFERENCES consent_events (id),
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state = 'queued' OR state = 'sending' OR state = 'sent'
                        OR state = 'failed' OR state = 'unknown' OR state = 'skipped'),
    wamid           TEXT,
    delivery_status TEXT,                   -- sent < delivered < read; failed is final
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX outbound_by_state ON outbound_messages (state, id);
CREATE INDEX outbound_by_wamid ON outbound_messages (wamid) WHERE wamid IS NOT NULL;

CREATE TABLE review_queue (
    id          INTEGER PRIMARY KEY,
    wamid       TEXT NOT NULL UNIQUE,
    contact_id  INTEGER REFERENCES contacts (id),
    from_wa_id  TEXT,
    text        TEXT NOT NULL,
    matched     TEXT,
    received_at TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open' CHECK (state = 'open' OR state = 'accepted'
                    OR state = 'dismissed'),
    decided_at  TEXT,
    decided_by  TEXT
) STRICT;
"#,
    // 5: broadcasts and their recipients (one row each, with its own state machine).
    r#"
CREATE TABLE broadcasts (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    template_name   TEXT NOT NULL,
    language        TEXT NOT NULL,
    category        TEXT NOT NULL,
    params          TEXT NOT NULL,          -- JSON: body parameters, fixed text or a contact field
    audience_tags   TEXT NOT NULL,          -- JSON array; empty means everyone
    override_reason TEXT,                   -- why a marketing template with no way out was allowed
    state           TEXT NOT NULL CHECK (state = 'draft' OR state = 'sending' OR state = 'paused'
                        OR state = 'finished' OR state = 'cancelled'),
    pause_reason    TEXT,
    lease_owner     TEXT,                   -- the engine sending it, with a heartbeat
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE broadcast_recipients (
    broadcast_id    INTEGER NOT NULL REFERENCES broadcasts (id),
    contact_id      INTEGER NOT NULL REFERENCES contacts (id),
    -- queued → sending → sent | failed | blocked | unknown (may have reached Meta)
    state           TEXT NOT NULL CHECK (state = 'queued' OR state = 'sending' OR state = 'sent'
                        OR state = 'failed' OR state = 'blocked' OR state = 'unknown'),
    reason          TEXT,
    error_code      INTEGER,
    wamid           TEXT,
    delivery_status TEXT,                   -- sent < delivered < read; failed is final
    attempts        INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (broadcast_id, contact_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX broadcast_recipients_by_state ON broadcast_recipients (broadcast_id, state, contact_id);
CREATE INDEX broadcast_recipients_by_wamid ON broadcast_recipients (wamid) WHERE wamid IS NOT NULL;
"#,
    // 6: sign-up sources (QR codes and links), and welcome replies among OptDesk's own replies.
    r#"
CREATE TABLE signup_sources (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,       -- upper case, without the '#'
    label       TEXT NOT NULL,
    topic       TEXT NOT NULL CHECK (topic = 'marketing' OR topic = 'utility'),
    text        TEXT NOT NULL,              -- the prefilled message
    created_at  TEXT NOT NULL,
    retired_at  TEXT
) STRICT;

CREATE TABLE outbound_messages_v6 (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind = 'optout_confirmation' OR kind = 'help_reply'
                        OR kind = 'welcome'),
    contact_id      INTEGER REFERENCES contacts (id),
    to_number       TEXT,
    in_reply_to     TEXT NOT NULL UNIQUE,
    optout_event_id INTEGER REFERENCES consent_events (id),
    body            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state = 'queued' OR state = 'sending' OR state = 'sent'
                        OR state = 'failed' OR state = 'unknown' OR state = 'skipped'),
    wamid           TEXT,
    delivery_status TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
INSERT INTO outbound_messages_v6 SELECT * FROM outbound_messages;
DROP TABLE outbound_messages;
ALTER TABLE outbound_messages_v6 RENAME TO outbound_messages;
CREATE INDEX outbound_by_state ON outbound_messages (state, id);
CREATE INDEX outbound_by_wamid ON outbound_messages (wamid) WHERE wamid IS NOT NULL;
"#,
    // 7: erasure: the contact row stays (its salted number hash keeps it suppressed and the ledger
    // keeps its links) but says it was erased.
    r#"
ALTER TABLE contacts ADD COLUMN erased_at TEXT;
"#,
    // 8: a lane for customers' messages in the inbox: under a broadcast's flood of delivery
    // statuses, a STOP is processed first instead of waiting behind thousands of them.
    r#"
ALTER TABLE inbox ADD COLUMN has_messages INTEGER NOT NULL DEFAULT 0;
UPDATE inbox SET has_messages = (instr(body, '"messages":') > 0) WHERE processed_at IS NULL;
DROP INDEX inbox_unprocessed;
CREATE INDEX inbox_unprocessed ON inbox (has_messages DESC, id) WHERE processed_at IS NULL;
"#,
    // 9: a body is processed part by part: a part that fails is kept as an inbox row of its own
    // (a one-part body naming its parent) while the rest of its body is applied. Replies carry
    // the deadline counted from the customer's message, and whether they were skipped because
    // the message itself arrived late (information, not a fault).
    r#"
ALTER TABLE inbox ADD COLUMN parent_id INTEGER REFERENCES inbox (id);
ALTER TABLE outbound_messages ADD COLUMN due_at TEXT;
ALTER TABLE outbound_messages ADD COLUMN arrived_late INTEGER NOT NULL DEFAULT 0;
UPDATE outbound_messages SET due_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+5 minutes')
    WHERE state = 'queued';

-- Reaching OptDesk (one row): what OptDesk registered with Meta and what it replaced, the
-- routing last read back and any change made elsewhere, the endpoint the receiving process
-- serves, and the requests a tunnel carried this month (against its plan's quota).
CREATE TABLE webhook_state (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    registered_level    TEXT CHECK (registered_level = 'app' OR registered_level = 'number'),
    registered_url      TEXT,
    previous_app_url    TEXT,
    previous_number_url TEXT,
    registered_at       TEXT,
    routing             TEXT,                 -- JSON: the routing last read back from Meta
    routing_checked_at  TEXT,
    drift               TEXT,                 -- what changed elsewhere, in a sentence (a banner)
    endpoint_mode       TEXT,
    endpoint_url        TEXT,                 -- the public base URL the receiving process serves
    endpoint_state      TEXT,                 -- up, down, or the error that stopped it
    endpoint_since      TEXT,
    tunnel_month        TEXT,                 -- YYYY-MM
    tunnel_requests     INTEGER NOT NULL DEFAULT 0,
    test_asked_at       TEXT                  -- when the owner was asked to send "test"
) STRICT;
INSERT INTO webhook_state (id) VALUES (1);
"#,
    // 10: the relay mailbox. A body pulled from it keeps its mailbox and cursor, so the same body
    // pulled twice (a crash between the inbox commit and the acknowledgement) is stored once.
    // `relay_state` (one row) is how far this database has taken the mailbox, and how its pulls
    // go; a broadcast started without draining it says so on the broadcast.
    r#"
ALTER TABLE inbox ADD COLUMN relay_mailbox TEXT;
ALTER TABLE inbox ADD COLUMN relay_seq INTEGER;
CREATE UNIQUE INDEX inbox_by_relay ON inbox (relay_mailbox, relay_seq) WHERE relay_seq IS NOT NULL;

CREATE TABLE relay_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    mailbox_url     TEXT,                   -- the mailbox the cursor belongs to
    cursor          INTEGER NOT NULL DEFAULT 0, -- every body up to it is in the inbox (or refused)
    newest          INTEGER NOT NULL DEFAULT 0, -- the mailbox's newest, as last heard
    pulled_at       TEXT,                   -- the last pull that reached the relay
    failing_since   TEXT,                   -- the first failed pull since the last good one
    error           TEXT,
    refused         INTEGER NOT NULL DEFAULT 0, -- bodies whose Meta signature was wrong
    refused_at      TEXT
) STRICT;
INSERT INTO relay_state (id) VALUES (1);

ALTER TABLE broadcasts ADD COLUMN started_without_relay TEXT; -- JSON: [{"at", "why"}]

-- When this PC's receiver could be reached (one row per stretch of heartbeats), so a broadcast
-- can say when it could not: opt-outs sent then may still arrive from Meta's retries.
CREATE TABLE receiver_uptime (
    id      INTEGER PRIMARY KEY,
    mode    TEXT NOT NULL,
    since   TEXT NOT NULL,
    until   TEXT NOT NULL
) STRICT;
CREATE INDEX receiver_uptime_by_until ON receiver_uptime (until);
"#,
    // 11: broadcasts the owner plans and learns from. When each recipient was first delivered (a
    // read implies it), so an opt-out is attributed to the latest delivery before it; the reasons
    // a broadcast is paused for, each cleared on its own, kept as its history; the brake's plan
    // and the canary; the schedule, in UTC with the shop's zone.
    r#"
ALTER TABLE broadcast_recipients ADD COLUMN delivered_at TEXT;
UPDATE broadcast_recipients SET delivered_at = (
    SELECT min(s.occurred_at) FROM message_statuses s
    WHERE s.wamid = broadcast_recipients.wamid AND (s.status = 'delivered' OR s.status = 'read'))
WHERE wamid IS NOT NULL;
CREATE INDEX broadcast_recipients_by_delivery ON broadcast_recipients (contact_id, delivered_at)
    WHERE delivered_at IS NOT NULL;
CREATE INDEX inbound_messages_by_contact ON inbound_messages (contact_id, sent_at)
    WHERE contact_id IS NOT NULL;
-- The customers' own opt-out signals, a few percent of the ledger: results start from them.
CREATE INDEX consent_events_signals ON consent_events (contact_id)
    WHERE (source_kind = 'keyword' OR source_kind = 'button' OR source_kind = 'meta_signal')
      AND (state = 'opted_out' OR state = 'set');

CREATE TABLE broadcast_pauses (
    id           INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),
    kind         TEXT NOT NULL CHECK (kind = 'owner' OR kind = 'template' OR kind = 'account'
                    OR kind = 'quality' OR kind = 'brake' OR kind = 'quiet_hours'
                    OR kind = 'relay'),
    detail       TEXT NOT NULL,
    figures      TEXT,                      -- JSON: what the brake measured when it tripped
    paused_at    TEXT NOT NULL,
    cleared_at   TEXT,                      -- NULL while it holds the broadcast
    cleared_by   TEXT                       -- the owner, or the automatic resume that cleared it
) STRICT;
CREATE INDEX broadcast_pauses_by_broadcast ON broadcast_pauses (broadcast_id, cleared_at);
INSERT INTO broadcast_pauses (broadcast_id, kind, detail, paused_at)
    SELECT id, CASE WHEN pause_reason LIKE 'relay:%' THEN 'relay'
                    WHEN pause_reason LIKE '%by the owner%' THEN 'owner'
                    ELSE 'account' END,
           coalesce(pause_reason, 'paused'), updated_at
    FROM broadcasts WHERE state = 'paused';

ALTER TABLE broadcasts ADD COLUMN brake TEXT;          -- JSON: the plan, or {"off": why}
ALTER TABLE broadcasts ADD COLUMN canary_done_at TEXT;  -- the canary's last claim
ALTER TABLE broadcasts ADD COLUMN brake_baseline TEXT; -- JSON: figures the owner accepted on resume
ALTER TABLE broadcasts ADD COLUMN scheduled_at TEXT;   -- UTC
ALTER TABLE broadcasts ADD COLUMN schedule_zone TEXT;  -- IANA name, as the owner meant the time
ALTER TABLE broadcasts ADD COLUMN late_ok_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE broadcasts ADD COLUMN schedule_missed_at TEXT;
ALTER TABLE broadcasts ADD COLUMN quiet_hours_override TEXT; -- why it may send in quiet hours
ALTER TABLE broadcasts ADD COLUMN started_at TEXT;
-- Quiet hours are on for new databases; one from before them keeps sending as it did, and says
-- so once (the installation row exists only in databases created before this migration ran).
INSERT INTO settings (key, value) SELECT 'quiet_hours', 'off' FROM installation;
INSERT INTO settings (key, value) SELECT 'quiet_hours_notice', 'pending' FROM installation;
"#,
    // 12: the number's health as WhatsApp reports it (one row): quality, messaging limit and
    // the account, with the last event and whether the owner has seen a drop.
    r#"
CREATE TABLE number_health (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    quality         TEXT CHECK (quality = 'GREEN' OR quality = 'YELLOW' OR quality = 'RED'),
    messaging_limit TEXT,
    account_problem TEXT,                   -- a violation, restriction or ban, in a sentence
    last_event      TEXT,                   -- e.g. phone_number_quality_update: FLAGGED
    last_detail     TEXT,                   -- JSON, as WhatsApp sent it
    updated_at      TEXT
) STRICT;
INSERT INTO number_health (id) VALUES (1);
"#,
    // 13: the rate card the cost estimate reads: Meta's price per market and category, as the
    // owner imported it, with where it came from and from when it applies.
    r#"
CREATE TABLE rate_card (
    region   TEXT NOT NULL,                 -- ISO country code, or '*' for every other market
    market   TEXT NOT NULL,                 -- as the card names it
    category TEXT NOT NULL CHECK (category = 'marketing' OR category = 'utility'
                OR category = 'authentication' OR category = 'service'),
    rate     REAL NOT NULL CHECK (rate >= 0),
    currency TEXT NOT NULL,
    PRIMARY KEY (region, category)
) STRICT, WITHOUT ROWID;
CREATE TABLE rate_card_source (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    source      TEXT NOT NULL,
    effective   TEXT NOT NULL,              -- the date the rates apply from
    file_sha256 TEXT NOT NULL,
    imported_at TEXT NOT NULL
) STRICT;
"#,
    // 14: WhatsApp holding a person's marketing back (not consent, so not in the ledger):
    // 131049 until a time, 130472 until they next write.
    r#"
ALTER TABLE contacts ADD COLUMN held_back_until TEXT;
ALTER TABLE contacts ADD COLUMN held_for_experiment INTEGER NOT NULL DEFAULT 0
    CHECK (held_for_experiment = 0 OR held_for_experiment = 1);
"#,
    // 15: what a broadcast fills in beyond positional body parameters: named body variables and
    // the text header's variable (JSON, see broadcast::message::Slots).
    r#"
ALTER TABLE broadcasts ADD COLUMN message TEXT NOT NULL DEFAULT '{}';
"#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
