// The schema of Souk Live, one migration per version. Never edit a migration that
// has shipped: add a new one. Times are Unix milliseconds (INTEGER); ids are UUID
// text; secrets (tokens, stream keys) are stored only as SHA-256 hashes.
#include "souk/storage/migrations.hpp"

#include "souk/storage/sqlite.hpp"
#include "souk/time.hpp"

#include <string>

namespace souk::storage {
namespace {

constexpr const char* v1_initial = R"sql(
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('seller', 'buyer')),
  display_name  TEXT NOT NULL,
  avatar_url    TEXT,
  lat           REAL CHECK (lat BETWEEN -90 AND 90),
  lon           REAL CHECK (lon BETWEEN -180 AND 180),
  created_at    INTEGER NOT NULL,
  CHECK ((lat IS NULL) = (lon IS NULL))
);
CREATE UNIQUE INDEX users_username ON users (username COLLATE NOCASE);
-- Neighbourhood search: a latitude band narrows the scan before the exact distance.
CREATE INDEX users_location ON users (lat, lon) WHERE lat IS NOT NULL;

CREATE TABLE auth_tokens (
  token_hash BLOB PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

CREATE TABLE follows (
  follower_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  seller_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (follower_id, seller_id),
  CHECK (follower_id <> seller_id)
) WITHOUT ROWID;
CREATE INDEX follows_seller ON follows (seller_id, follower_id);

CREATE TABLE products (
  id          TEXT PRIMARY KEY,
  seller_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title       TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
  currency    TEXT NOT NULL,
  image_url   TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX products_seller ON products (seller_id, created_at);

CREATE TABLE streams (
  id                  TEXT PRIMARY KEY,
  seller_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title               TEXT NOT NULL,
  description         TEXT,
  category            TEXT,
  status              TEXT NOT NULL DEFAULT 'scheduled'
                        CHECK (status IN ('scheduled', 'live', 'ended')),
  audience            TEXT NOT NULL DEFAULT 'everyone'
                        CHECK (audience IN ('everyone', 'followers', 'neighborhood')),
  estimated_duration  INTEGER CHECK (estimated_duration BETWEEN 5 AND 240),
  notify_followers    INTEGER NOT NULL DEFAULT 1,
  notify_neighborhood INTEGER NOT NULL DEFAULT 0,
  enable_chat         INTEGER NOT NULL DEFAULT 1,
  enable_comments     INTEGER NOT NULL DEFAULT 1,
  record_stream       INTEGER NOT NULL DEFAULT 1,
  scheduled_at        INTEGER,
  stream_key_hash     BLOB,
  started_at          INTEGER,
  ended_at            INTEGER,
  ingest_state        TEXT NOT NULL DEFAULT 'waiting'
                        CHECK (ingest_state IN ('waiting', 'receiving', 'interrupted', 'finished')),
  last_media_at       INTEGER,
  vod_path            TEXT,
  vod_url             TEXT,
  notifications_sent  INTEGER NOT NULL DEFAULT 0,
  -- Analytics, stored when the stream ends (and kept current while live).
  duration_seconds    INTEGER,
  viewer_count        INTEGER NOT NULL DEFAULT 0,
  peak_viewers        INTEGER NOT NULL DEFAULT 0,
  unique_viewers      INTEGER NOT NULL DEFAULT 0,
  total_likes         INTEGER NOT NULL DEFAULT 0,
  chat_messages_count INTEGER NOT NULL DEFAULT 0,
  average_watch_time  INTEGER,
  total_watch_time    INTEGER,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
-- Discovery pages newest first; ties on created_at fall back to insertion order
-- (the rowid, which every index entry carries).
CREATE INDEX streams_created ON streams (created_at DESC);
CREATE INDEX streams_status ON streams (status, created_at DESC);
CREATE INDEX streams_seller ON streams (seller_id, created_at DESC);
CREATE UNIQUE INDEX streams_key ON streams (stream_key_hash) WHERE stream_key_hash IS NOT NULL;

CREATE TABLE stream_products (
  stream_id             TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  product_id            TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  position              INTEGER NOT NULL,
  tag_x                 REAL CHECK (tag_x BETWEEN 0 AND 1),
  tag_y                 REAL CHECK (tag_y BETWEEN 0 AND 1),
  tag_timestamp_seconds REAL CHECK (tag_timestamp_seconds >= 0),
  tagged_at             INTEGER,
  clicks                INTEGER NOT NULL DEFAULT 0,
  views                 INTEGER NOT NULL DEFAULT 0,
  inquiries             INTEGER NOT NULL DEFAULT 0,
  purchases             INTEGER NOT NULL DEFAULT 0,
  revenue_cents         INTEGER NOT NULL DEFAULT 0,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  PRIMARY KEY (stream_id, product_id)
) WITHOUT ROWID;
CREATE INDEX stream_products_product ON stream_products (product_id);

CREATE TABLE chat_messages (
  id         TEXT PRIMARY KEY,
  stream_id  TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  message    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX chat_messages_stream ON chat_messages (stream_id, created_at);

CREATE TABLE reactions (
  id         INTEGER PRIMARY KEY,
  stream_id  TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  emoji      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX reactions_stream ON reactions (stream_id, emoji);

-- One row per join; left_at stays NULL while the viewer is in the room.
-- viewer_key is the user id, or the socket id for an anonymous viewer.
CREATE TABLE viewer_sessions (
  id         INTEGER PRIMARY KEY,
  stream_id  TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  socket_id  TEXT NOT NULL,
  user_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
  viewer_key TEXT NOT NULL,
  joined_at  INTEGER NOT NULL,
  left_at    INTEGER,
  CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX viewer_sessions_stream ON viewer_sessions (stream_id, joined_at);
CREATE INDEX viewer_sessions_open ON viewer_sessions (stream_id) WHERE left_at IS NULL;

CREATE TABLE product_events (
  id           INTEGER PRIMARY KEY,
  stream_id    TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  product_id   TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  user_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
  type         TEXT NOT NULL CHECK (type IN ('click', 'view', 'inquiry', 'purchase')),
  amount_cents INTEGER NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
  created_at   INTEGER NOT NULL
);
CREATE INDEX product_events_stream ON product_events (stream_id, product_id, type);

CREATE TABLE notifications (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  stream_id  TEXT REFERENCES streams (id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  reason     TEXT,
  created_at INTEGER NOT NULL,
  read_at    INTEGER,
  UNIQUE (stream_id, user_id, kind)
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
)sql";

// The admin CLI: a disabled account cannot log in and its tokens stop working;
// `souk-live stream end` asks the running server (or the next start) to end a
// live stream as POST /end does.
constexpr const char* v2_admin = R"sql(
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE streams ADD COLUMN end_requested_at INTEGER;
CREATE INDEX streams_end_requested ON streams (end_requested_at)
  WHERE end_requested_at IS NOT NULL AND status = 'live';
)sql";

// Webhooks: an outbox of deliveries (one row per event and receiver URL, written
// in the transaction that makes the change) and the log of each attempt.
constexpr const char* v3_webhooks = R"sql(
CREATE TABLE webhook_deliveries (
  id              TEXT PRIMARY KEY,
  event_id        TEXT NOT NULL,
  event_type      TEXT NOT NULL,
  stream_id       TEXT REFERENCES streams (id) ON DELETE CASCADE,
  url             TEXT NOT NULL,
  body            TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  created_at      INTEGER NOT NULL,
  delivered_at    INTEGER
);
-- The dispatcher's question: which pending deliveries are due?
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_stream ON webhook_deliveries (stream_id, created_at);

CREATE TABLE webhook_attempts (
  delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  number       INTEGER NOT NULL,
  attempted_at INTEGER NOT NULL,
  duration_ms  INTEGER NOT NULL,
  http_status  INTEGER,
  error        TEXT,
  PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;
)sql";

// Product events were unbounded (issue 21): two purchases of 2^63-1 cents made a
// product's revenue a REAL. A purchase is now 0..10^10 cents and a product's
// revenue in a stream 0..10^15 (stream_products.hpp says why), as CHECK
// constraints; SQLite adds those only by rebuilding the tables. Events outside
// the bounds cannot be real purchases: they are dropped, and the purchase
// counters and revenue of the products they touched are recounted from the
// events kept (each event was written with its counter, in one transaction).
constexpr const char* v4_bounded_purchases = R"sql(
DELETE FROM product_events
  WHERE typeof(amount_cents) <> 'integer' OR amount_cents NOT BETWEEN 0 AND 10000000000;

CREATE TABLE product_events_bounded (
  id           INTEGER PRIMARY KEY,
  stream_id    TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  product_id   TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  user_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
  type         TEXT NOT NULL CHECK (type IN ('click', 'view', 'inquiry', 'purchase')),
  amount_cents INTEGER NOT NULL DEFAULT 0
                 CHECK (typeof(amount_cents) = 'integer' AND amount_cents BETWEEN 0 AND 10000000000),
  created_at   INTEGER NOT NULL
);
INSERT INTO product_events_bounded (id, stream_id, product_id, user_id, type, amount_cents, created_at)
  SELECT id, stream_id, product_id, user_id, type, amount_cents, created_at FROM product_events;
DROP TABLE product_events;
ALTER TABLE product_events_bounded RENAME TO product_events;
CREATE INDEX product_events_stream ON product_events (stream_id, product_id, type);

UPDATE stream_products SET
    purchases = (SELECT COUNT(*) FROM product_events e WHERE e.stream_id = stream_products.stream_id
                   AND e.product_id = stream_products.product_id AND e.type = 'purchase'),
    revenue_cents = MIN(1000000000000000,
                        (SELECT COALESCE(SUM(e.amount_cents), 0) FROM product_events e
                          WHERE e.stream_id = stream_products.stream_id
                            AND e.product_id = stream_products.product_id AND e.type = 'purchase'))
  WHERE typeof(revenue_cents) <> 'integer' OR revenue_cents NOT BETWEEN 0 AND 1000000000000000;

CREATE TABLE stream_products_bounded (
  stream_id             TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
  product_id            TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  position              INTEGER NOT NULL,
  tag_x                 REAL CHECK (tag_x BETWEEN 0 AND 1),
  tag_y                 REAL CHECK (tag_y BETWEEN 0 AND 1),
  tag_timestamp_seconds REAL CHECK (tag_timestamp_seconds >= 0),
  tagged_at             INTEGER,
  clicks                INTEGER NOT NULL DEFAULT 0,
  views                 INTEGER NOT NULL DEFAULT 0,
  inquiries             INTEGER NOT NULL DEFAULT 0,
  purchases             INTEGER NOT NULL DEFAULT 0,
  revenue_cents         INTEGER NOT NULL DEFAULT 0
                          CHECK (typeof(revenue_cents) = 'integer'
                                 AND revenue_cents BETWEEN 0 AND 1000000000000000),
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL,
  PRIMARY KEY (stream_id, product_id)
) WITHOUT ROWID;
INSERT INTO stream_products_bounded
  SELECT stream_id, product_id, position, tag_x, tag_y, tag_timestamp_seconds, tagged_at, clicks,
         views, inquiries, purchases, revenue_cents, created_at, updated_at FROM stream_products;
DROP TABLE stream_products;
ALTER TABLE stream_products_bounded RENAME TO stream_products;
CREATE INDEX stream_products_product ON stream_products (product_id);
)sql";

constexpr Migration migrations[] = {
    {1, "initial schema", v1_initial},
    {2, "disabled accounts and operator end requests", v2_admin},
    {3, "webhook outbox", v3_webhooks},
    {4, "bounded purchase amounts and revenue", v4_bounded_purchases},
};

void ensure_version_table(Connection& conn) {
  conn.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " applied_at INTEGER NOT NULL)");
}

}  // namespace

std::span<const Migration> known_migrations() { return migrations; }

int schema_version(Connection& conn) {
  ensure_version_table(conn);
  auto q = conn.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  q.next();
  return static_cast<int>(q->int64(0));
}

int migrate(Connection& conn, std::span<const Migration> list) {
  const int latest = list.empty() ? 0 : list.back().version;
  int current = schema_version(conn);
  if (current > latest) {
    throw SchemaTooNewError("database schema version " + std::to_string(current) +
                            " is newer than this souk-live supports (" +
                            std::to_string(latest) +
                            "); run a newer souk-live or restore a backup");
  }
  for (const Migration& m : list) {
    if (m.version <= current) continue;
    Transaction tx(conn, Transaction::Kind::immediate);
    conn.exec_script(m.sql);
    conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                 m.version, m.name, now_millis());
    tx.commit();
    current = m.version;
  }
  return current;
}

}  // namespace souk::storage
