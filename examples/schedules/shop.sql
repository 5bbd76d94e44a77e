-- The schedules example's shop: customers, bookings, carts and orders. Times are UTC text as
-- SQLite's datetime() writes them, relative to now so the demo always has something due.
PRAGMA journal_mode = WAL;

CREATE TABLE customers (
  id                INTEGER PRIMARY KEY,
  first_name        TEXT NOT NULL,
  phone             TEXT,
  marketing_consent INTEGER NOT NULL DEFAULT 0,
  last_login_at     TEXT NOT NULL
);

CREATE TABLE bookings (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  service     TEXT NOT NULL,
  starts_at   TEXT NOT NULL,
  status      TEXT NOT NULL          -- confirmed | cancelled
);

CREATE TABLE carts (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  total       REAL NOT NULL,
  ordered     INTEGER NOT NULL DEFAULT 0,
  updated_at  TEXT NOT NULL
);

CREATE TABLE orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  total       REAL NOT NULL,
  created_at  TEXT NOT NULL
);

INSERT INTO customers (id, first_name, phone, marketing_consent, last_login_at) VALUES
  (1, 'Anna',   '600 700 800',     1, datetime('now', '-2 days')),
  (2, 'Łukasz', '+48 601-234-567', 1, datetime('now', '-45 days')),
  (3, 'Marta',  '602 345 678',     0, datetime('now', '-60 days')),
  (4, 'Piotr',  '603 456 789',     1, datetime('now', '-1 days'));

-- Booking 1 starts 24 hours and a minute from now: the first run of booking_reminder after
-- the bridge starts (within two minutes) reminds Anna. Booking 2 is cancelled; booking 3 is
-- next week.
INSERT INTO bookings (id, customer_id, service, starts_at, status) VALUES
  (1, 1, 'Haircut',  datetime('now', '+24 hours', '+1 minute'), 'confirmed'),
  (2, 2, 'Massage',  datetime('now', '+24 hours', '+1 minute'), 'cancelled'),
  (3, 4, 'Manicure', datetime('now', '+7 days'),                'confirmed');

-- Cart 1 was left two hours ago; cart 2 became an order; cart 3 is still being filled.
INSERT INTO carts (id, customer_id, total, ordered, updated_at) VALUES
  (1, 2, 249.0, 0, datetime('now', '-2 hours')),
  (2, 1,  59.9, 1, datetime('now', '-3 hours')),
  (3, 4,  12.5, 0, datetime('now', '-5 minutes'));

-- Anna ordered last week, so Friday's campaign skips her.
INSERT INTO orders (id, customer_id, total, created_at) VALUES
  (1, 1, 59.9, datetime('now', '-7 days'));
