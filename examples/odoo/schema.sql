-- Odoo-shaped tables for the smsbridge Odoo example (PostgreSQL). The columns are the ones
-- Odoo stores (table = model name with '.' -> '_'), trimmed to what the example needs; a real
-- Odoo database already has them, so there you skip this file.
--   psql "$ODOO_DSN" -v ON_ERROR_STOP=1 -f examples/odoo/schema.sql

CREATE TABLE res_country (
  id serial PRIMARY KEY,
  code varchar(2) NOT NULL UNIQUE,
  name text NOT NULL
);

CREATE TABLE res_partner (
  id serial PRIMARY KEY,
  name text NOT NULL,
  phone text,
  mobile text,  -- removed in Odoo 18.2 / 19.0 (OCA partner_mobile restores it)
  country_id integer REFERENCES res_country (id),
  lang text,
  write_date timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE sale_order (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,  -- S00001
  partner_id integer NOT NULL REFERENCES res_partner (id),
  state varchar NOT NULL DEFAULT 'draft',  -- draft | sent | sale | cancel
  locked boolean NOT NULL DEFAULT false,
  amount_total numeric NOT NULL DEFAULT 0,
  currency text NOT NULL DEFAULT 'PLN',
  date_order timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
  write_date timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE stock_location (
  id serial PRIMARY KEY,
  complete_name text NOT NULL,
  usage varchar NOT NULL  -- internal | customer | supplier | inventory | transit | view
);

CREATE TABLE product_product (
  id serial PRIMARY KEY,
  default_code text,
  name text NOT NULL
);

-- On-hand quantity of a product is the sum of `quantity` over internal locations; Odoo
-- updates these rows when a delivery or receipt is validated.
CREATE TABLE stock_quant (
  id serial PRIMARY KEY,
  product_id integer NOT NULL REFERENCES product_product (id),
  location_id integer NOT NULL REFERENCES stock_location (id),
  quantity numeric NOT NULL DEFAULT 0,
  reserved_quantity numeric NOT NULL DEFAULT 0,
  in_date timestamp,
  write_date timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- Inventory > Configuration > Reordering Rules.
CREATE TABLE stock_warehouse_orderpoint (
  id serial PRIMARY KEY,
  name text NOT NULL,
  product_id integer NOT NULL REFERENCES product_product (id),
  location_id integer NOT NULL REFERENCES stock_location (id),
  product_min_qty numeric NOT NULL,
  product_max_qty numeric NOT NULL,
  qty_multiple numeric NOT NULL DEFAULT 1,
  trigger varchar NOT NULL DEFAULT 'auto',
  active boolean NOT NULL DEFAULT true
);

INSERT INTO res_country (id, code, name) VALUES (1, 'PL', 'Poland'), (2, 'DE', 'Germany');
INSERT INTO res_partner (id, name, phone, mobile, country_id, lang) VALUES
  (1, 'Anna Nowak', '22 123 45 67', '601 234 567', 1, 'pl_PL'),
  (2, 'Jonas Weber', '+49 30 1234567', '0151 2345678', 2, 'de_DE'),
  (3, 'Piotr Zieliński', '602 345 678', NULL, 1, 'pl_PL');
INSERT INTO sale_order (id, name, partner_id, state, amount_total) VALUES
  (1, 'S00001', 1, 'draft', 1249.00),
  (2, 'S00002', 2, 'draft', 389.50),
  (3, 'S00003', 3, 'draft', 99.99);
INSERT INTO stock_location (id, complete_name, usage) VALUES
  (5, 'Partners/Customers', 'customer'),
  (8, 'WH/Stock', 'internal');
INSERT INTO product_product (id, default_code, name) VALUES
  (1, 'FURN_7800', 'Desk Combination'),
  (2, 'FURN_8888', 'Office Lamp');
INSERT INTO stock_quant (id, product_id, location_id, quantity) VALUES
  (1, 1, 8, 25),
  (2, 2, 8, 12);
INSERT INTO stock_warehouse_orderpoint
  (id, name, product_id, location_id, product_min_qty, product_max_qty) VALUES
  (1, 'OP/00001', 1, 8, 10, 40),
  (2, 'OP/00002', 2, 8, 5, 20);
-- The rows above carry the ids Odoo would show; move the sequences past them.
SELECT setval(pg_get_serial_sequence(t, 'id'), 100)
  FROM unnest(ARRAY['res_country', 'res_partner', 'sale_order', 'stock_location',
                    'product_product', 'stock_quant', 'stock_warehouse_orderpoint']) AS t;
