-- Plays WooCommerce's side of the example: customers check out, pay, fail to pay, cancel and get
-- refunds, and the orders take stock with them; then the shop restocks. Each CALL commits on its
-- own, as WooCommerce's requests do. The procedures (schema.sql) write whichever order storage
-- the options select, so this file runs unchanged on HPOS, legacy and compatibility mode.
-- The SMS each step makes are in README.md ("WooCommerce (MariaDB) example").

-- Anna pays by card: a new order (customer and admin SMS); coffee 5 -> 3.
CALL wc_place_order('Anna', 'Nowak', '600 700 800', 'PL', 10, 2, 119.98, @anna);
CALL wc_update_status(@anna, 'wc-processing');
CALL wc_update_status(@anna, 'wc-completed');
-- A fulfilment plugin completes the order once more: still one "completed" SMS.
CALL wc_update_status(@anna, 'wc-completed');

-- Jürgen pays by bank transfer (a German mobile number, written nationally): on hold, a new
-- order; coffee 3 -> 2 is low stock (the store's threshold, 2).
CALL wc_place_order('Jürgen', 'Schmidt', '0151 23456789', 'DE', 10, 1, 59.99, @juergen);
CALL wc_update_status(@juergen, 'wc-on-hold');
-- He never pays: cancelled, the coffee goes back (2 -> 3, above the threshold again).
CALL wc_update_status(@juergen, 'wc-cancelled');

-- Kasia buys one coffee: 3 -> 2 is low stock again, through the same numbers as Jürgen's.
CALL wc_place_order('Kasia', 'Lewandowska', '604 333 444', 'PL', 10, 1, 59.99, @kasia);
CALL wc_update_status(@kasia, 'wc-processing');

-- Marta's card is declined, she retries and pays: a new order once paid; coffee 2 -> 0 is out
-- of stock.
CALL wc_place_order('Marta', 'Wiśniewska', '+48 601 234 567', 'PL', 10, 2, 119.98, @marta);
CALL wc_update_status(@marta, 'wc-failed');
CALL wc_update_status(@marta, 'wc-processing');
CALL wc_update_status(@marta, 'wc-refunded');

-- Restocked: both coffee alerts re-arm.
CALL wc_update_product_stock(10, 20, 'set');

-- Piotr buys 18 coffee (20 -> 2: low again) and 2 cups (12 -> 10: at the cups' own threshold).
CALL wc_place_order('Piotr', 'Zieliński', '602 111 222', 'PL', 10, 18, 999.00, @piotr);
CALL wc_update_status(@piotr, 'wc-processing');
CALL wc_place_order('Piotr', 'Zieliński', '602 111 222', 'PL', 11, 2, 49.00, @piotr_cups);
CALL wc_update_status(@piotr_cups, 'wc-processing');

-- Ewa buys 2 T-shirts of a variation without a threshold: its parent's (3) applies, 4 -> 2.
CALL wc_place_order('Ewa', 'Kowalczyk', '603 222 333', 'PL', 13, 2, 98.00, @ewa);
CALL wc_update_status(@ewa, 'wc-processing');
