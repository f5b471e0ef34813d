-- indiv event log, schema version 1.
--
-- The event log is the source of truth; profiles can be rebuilt from it. The file is
-- embedded in libindiv at build time and run in one transaction when a database is
-- created. PRAGMA application_id marks the file as an indiv database (0x494E4456,
-- "INDV"); PRAGMA user_version is the schema version, checked on every open.
--
-- Conventions: timestamps are UTC seconds since 1970-01-01 (INTEGER); money is in the
-- source currency (REAL); booleans are 0/1; ext_id is the source system's id, id is ours.

PRAGMA application_id = 1229866070;
PRAGMA user_version = 1;

-- Key/value facts about the database: creator, world parameters, generator seed, ...
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Lookup tables, so that plain SQL on the database reads names, not codes.
CREATE TABLE event_types (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO event_types (id, name) VALUES
    (1, 'view'), (2, 'purchase'), (3, 'return'), (4, 'contact'),
    (5, 'open'), (6, 'click'), (7, 'dismiss'), (8, 'unsubscribe');

CREATE TABLE channels (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    contactable INTEGER NOT NULL CHECK (contactable IN (0, 1))
);
INSERT INTO channels (id, name, contactable) VALUES
    (1, 'email', 1), (2, 'sms', 1), (3, 'push', 1), (4, 'web', 0), (5, 'store', 0);

-- consent_profiling: may an individual profile be built from this person's events?
-- consent_contact:   may the engine ever emit a contact decision for them?
-- channels:          bit mask of accepted contact channels, bit (1 << channels.id).
-- unsubscribed_ts:   when they withdrew contact consent through an unsubscribe event.
CREATE TABLE consumers (
    id                INTEGER PRIMARY KEY,
    ext_id            TEXT NOT NULL UNIQUE,
    consent_profiling INTEGER NOT NULL DEFAULT 0 CHECK (consent_profiling IN (0, 1)),
    consent_contact   INTEGER NOT NULL DEFAULT 0 CHECK (consent_contact IN (0, 1)),
    channels          INTEGER NOT NULL DEFAULT 0 CHECK (channels >= 0 AND channels < 16),
    country           TEXT,
    unsubscribed_ts   INTEGER
);

CREATE TABLE categories (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- valid_from / valid_to: NULL means unbounded on that side.
CREATE TABLE offers (
    id          INTEGER PRIMARY KEY,
    ext_id      TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL DEFAULT '',
    category_id INTEGER NOT NULL REFERENCES categories (id),
    price       REAL NOT NULL DEFAULT 0 CHECK (price >= 0),
    margin      REAL NOT NULL DEFAULT 0,
    valid_from  INTEGER,
    valid_to    INTEGER
);
CREATE INDEX offers_category ON offers (category_id);

-- Typed events, clustered by (consumer_id, ts, id): a WITHOUT ROWID table stores rows in
-- primary-key order, so one ordered pass per consumer is a sequential read of the b-tree
-- instead of a lookup per row through a non-covering index (docs/architecture.md §4).
-- id is unique across the table (assigned max+1 by the eventlog module, so no extra
-- index is paid for it) and breaks ties between events of the same second in
-- the order they were appended. offer_id is NULL for events about no offer
-- (unsubscribe); channel is NULL when unknown.
CREATE TABLE events (
    consumer_id INTEGER NOT NULL REFERENCES consumers (id),
    ts          INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    offer_id    INTEGER REFERENCES offers (id),
    type        INTEGER NOT NULL REFERENCES event_types (id),
    channel     INTEGER REFERENCES channels (id),
    quantity    REAL NOT NULL DEFAULT 1,
    value       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer_id, ts, id)
) WITHOUT ROWID;

-- Built features (profile module). Rebuildable from events; vector is a packed array of
-- little-endian doubles whose layout is named by the profile version.
CREATE TABLE profiles (
    consumer_id INTEGER PRIMARY KEY REFERENCES consumers (id),
    as_of       INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    n_events    INTEGER NOT NULL DEFAULT 0,
    vector      BLOB NOT NULL
);

-- Purchases per offer and UTC day: the offers' non-personal popularity, read by the
-- scorer without scanning events. Kept by the eventlog module, which counts the purchases
-- a transaction appends in memory and adds them at commit (a per-row trigger doubled the
-- cost of bulk appends). It counts every purchase, consent or not: an aggregate over all
-- customers, never a profile of one. Writers that bypass libindiv must rebuild it
-- (indiv_eventlog_rebuild_offer_daily).
CREATE TABLE offer_daily (
    offer_id  INTEGER NOT NULL,
    day       INTEGER NOT NULL, -- floor(ts / 86400)
    purchases INTEGER NOT NULL,
    PRIMARY KEY (offer_id, day)
) WITHOUT ROWID;

-- One row per imported input, so that the same file is not imported twice by mistake.
-- fingerprint: FNV-1a 64 of the input bytes, as 16 hex digits (identity, not security).
CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    format      TEXT NOT NULL,
    source      TEXT NOT NULL,
    imported_ts INTEGER NOT NULL,
    rows_read   INTEGER NOT NULL,
    rows_imported INTEGER NOT NULL,
    rows_skipped  INTEGER NOT NULL
);
CREATE INDEX imports_fingerprint ON imports (fingerprint);

-- Ground truth of simulated worlds. The engine never reads these tables; only the
-- simulator and the metrics do.
CREATE TABLE truth_consumers (
    consumer_id        INTEGER PRIMARY KEY REFERENCES consumers (id),
    interval_mean_days REAL NOT NULL,  -- mean days between organic purchases
    interval_shape     REAL NOT NULL,  -- gamma shape of those intervals
    pref_hour          INTEGER NOT NULL CHECK (pref_hour BETWEEN 0 AND 23),
    pref_dow           INTEGER NOT NULL CHECK (pref_dow BETWEEN 0 AND 6), -- 0 = Monday
    openness           REAL NOT NULL,  -- propensity to try new categories, in [0,1]
    fatigue_tolerance  REAL NOT NULL,  -- irrelevant contacts tolerated before leaving
    react_email        REAL NOT NULL,  -- probability of reacting to a good contact
    react_sms          REAL NOT NULL,
    react_push         REAL NOT NULL
);

-- weight: true taste of the consumer for the category (sums to 1 over the consumer's
-- rows). latent = 1: a real taste with no purchase history (docs/architecture.md §8).
CREATE TABLE truth_tastes (
    consumer_id INTEGER NOT NULL REFERENCES consumers (id),
    category_id INTEGER NOT NULL REFERENCES categories (id),
    weight      REAL NOT NULL CHECK (weight >= 0),
    latent      INTEGER NOT NULL CHECK (latent IN (0, 1)),
    PRIMARY KEY (consumer_id, category_id)
) WITHOUT ROWID;

-- Data rights (rights module, docs/rights.md). These three tables came after version 1
-- was released: src/rights.c creates them when missing (CREATE TABLE IF NOT EXISTS, the
-- same definitions; keep the two in step), so older databases open unchanged. None of
-- them is part of the content hash.

-- Models trained from this database (indiv train) or decided with on it (indiv decide,
-- serve). key: FNV-1a 64 of the model's id and provenance (indiv_rights_model_key).
-- data_before: the model learnt from events before this time (its provenance's as_of).
-- erased: people erased since whose events before data_before it may still hold; a
-- model with erased > 0 must be retrained (decide and serve warn).
CREATE TABLE models (
    key          TEXT PRIMARY KEY,
    id           TEXT NOT NULL,
    path         TEXT,
    data_before  INTEGER,
    trained_at   INTEGER,
    trained_ts   INTEGER,
    last_used_ts INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    erased       INTEGER NOT NULL DEFAULT 0,
    erased_ts    INTEGER
);

-- Consent changes made through the rights module (indiv consent, serve), with the state
-- after each change: the record that consent was given or withdrawn, and when.
CREATE TABLE consent_changes (
    consumer_id       INTEGER NOT NULL REFERENCES consumers (id),
    ts                INTEGER NOT NULL,
    consent_profiling INTEGER NOT NULL,
    consent_contact   INTEGER NOT NULL,
    channels          INTEGER NOT NULL
);
CREATE INDEX consent_changes_consumer ON consent_changes (consumer_id, ts);

-- One row per erased person, naming nobody: when, and the time of their first event, so
-- that a model trained before an erasure and registered only after it is still marked.
CREATE TABLE erasures (
    erased_ts      INTEGER NOT NULL,
    first_event_ts INTEGER
);
