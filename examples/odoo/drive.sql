-- What Odoo writes while people work, one transaction per statement (one click each), for the
-- smsbridge Odoo example. Expected SMS: 2 order confirmations + 2 reorder alerts = 4.
--   psql "$ODOO_DSN" -v ON_ERROR_STOP=1 -f examples/odoo/drive.sql

-- S00001: the customer accepts the quotation: draft -> sale. SMS.
UPDATE sale_order SET state = 'sale', write_date = now() AT TIME ZONE 'utc' WHERE name = 'S00001';
-- S00002: the quotation is emailed (draft -> sent, no SMS), then confirmed (sent -> sale, SMS).
UPDATE sale_order SET state = 'sent', write_date = now() AT TIME ZONE 'utc' WHERE name = 'S00002';
UPDATE sale_order SET state = 'sale', write_date = now() AT TIME ZONE 'utc' WHERE name = 'S00002';
-- S00003 is cancelled (no SMS); S00001 is locked after confirmation (still 'sale': no SMS).
UPDATE sale_order SET state = 'cancel', write_date = now() AT TIME ZONE 'utc' WHERE name = 'S00003';
UPDATE sale_order SET locked = true, write_date = now() AT TIME ZONE 'utc' WHERE name = 'S00001';

-- Desk Combination (minimum 10): deliveries take it 25 -> 14 -> 8, which crosses below the
-- minimum (SMS), then 8 -> 5 (still below: no second SMS).
UPDATE stock_quant SET quantity = 14, write_date = now() AT TIME ZONE 'utc' WHERE id = 1;
UPDATE stock_quant SET quantity = 8, write_date = now() AT TIME ZONE 'utc' WHERE id = 1;
UPDATE stock_quant SET quantity = 5, write_date = now() AT TIME ZONE 'utc' WHERE id = 1;
-- A receipt refills it to 30 (back above: the alert re-arms, no SMS), a big delivery takes it
-- to 9 (a new crossing: SMS).
UPDATE stock_quant SET quantity = 30, write_date = now() AT TIME ZONE 'utc' WHERE id = 1;
UPDATE stock_quant SET quantity = 9, write_date = now() AT TIME ZONE 'utc' WHERE id = 1;
-- Office Lamp (minimum 5): 12 -> 6 -> 5 never goes below the minimum (exactly 5 is not below
-- it), and a reservation changes nothing on hand: no SMS.
UPDATE stock_quant SET quantity = 6, write_date = now() AT TIME ZONE 'utc' WHERE id = 2;
UPDATE stock_quant SET quantity = 5, write_date = now() AT TIME ZONE 'utc' WHERE id = 2;
UPDATE stock_quant SET reserved_quantity = 2, write_date = now() AT TIME ZONE 'utc' WHERE id = 2;
