-- The quickstart's demo shop: a tiny order and product schema like an embedded shop has.
-- scripts/demo.sh creates shop.db from this file.
PRAGMA journal_mode = WAL;

CREATE TABLE orders (
  id            INTEGER PRIMARY KEY,
  number        TEXT NOT NULL,
  customer_name TEXT NOT NULL,
  phone         TEXT,            -- as the customer typed it at checkout
  country       TEXT,            -- ISO-3166 alpha-2 billing country
  status        TEXT NOT NULL,   -- pending | processing | shipped | delivered | cancelled
  total         REAL NOT NULL,
  updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE products (
  id                  INTEGER PRIMARY KEY,
  sku                 TEXT NOT NULL UNIQUE,
  name                TEXT NOT NULL,
  stock               INTEGER NOT NULL,
  low_stock_threshold INTEGER NOT NULL DEFAULT 5
);

INSERT INTO orders (id, number, customer_name, phone, country, status, total) VALUES
  (1001, 'SO-1001', 'Anna',   '600 700 800',      'PL', 'processing', 129.90),
  (1002, 'SO-1002', 'Łukasz', '+48 601-234-567',  'PL', 'processing',  54.00),
  (1003, 'SO-1003', 'Jonas',  '0151 23456789',    'DE', 'processing', 310.50),
  (1004, 'SO-1004', 'Emily',  '07400 123456',     'GB', 'processing',  18.75),
  (1005, 'SO-1005', 'Marek',  '',                 'PL', 'processing',  42.00);

INSERT INTO products (id, sku, name, stock, low_stock_threshold) VALUES
  (1, 'MUG-BLK', 'Black mug',        12, 5),
  (2, 'TEE-M',   'T-shirt M',         7, 5),
  (3, 'CAP-RED', 'Red cap',          40, 10);
