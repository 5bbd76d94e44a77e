-- A WooCommerce shop's database, reduced to what order and stock SMS touch: WordPress's posts,
-- postmeta, options and comments, and WooCommerce's HPOS order tables, line items and product
-- lookup table, with the columns WooCommerce creates (WC_Install::get_schema() and
-- OrdersTableDataStore::get_database_schema(); docs: ../../README.md, "WooCommerce (MariaDB)
-- example"). Prefix wp_, as in a default wp-config.php.
--
-- Below the tables, stored procedures play WooCommerce's part: placing an order, moving its
-- status, and moving stock, writing the rows WooCommerce writes, in the order it writes them,
-- to the order storage its options select:
--   woocommerce_custom_orders_table_enabled = yes   HPOS (wp_wc_orders) is authoritative;
--                                             no    the posts storage (wp_posts) is
--   woocommerce_custom_orders_table_data_sync_enabled = yes   the other storage is written too
--                                                             ("compatibility mode")
-- Load it with the mariadb/mysql client (it understands DELIMITER): mariadb wordpress < schema.sql

CREATE TABLE wp_options (
  option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_posts (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL DEFAULT '',
  post_title text NOT NULL DEFAULT '',
  post_excerpt text NOT NULL DEFAULT '',
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open',
  ping_status varchar(20) NOT NULL DEFAULT 'open',
  post_password varchar(255) NOT NULL DEFAULT '',
  post_name varchar(200) NOT NULL DEFAULT '',
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  guid varchar(255) NOT NULL DEFAULT '',
  menu_order int(11) NOT NULL DEFAULT 0,
  post_type varchar(20) NOT NULL DEFAULT 'post',
  post_mime_type varchar(100) NOT NULL DEFAULT '',
  comment_count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID),
  KEY type_status_date (post_type, post_status, post_date, ID),
  KEY post_parent (post_parent)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_postmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (meta_id),
  KEY post_id (post_id),
  KEY meta_key (meta_key(191))
) DEFAULT CHARSET=utf8mb4;

-- Order notes ("Order status changed from Pending payment to Processing.").
CREATE TABLE wp_comments (
  comment_ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_post_ID bigint(20) unsigned NOT NULL DEFAULT 0,
  comment_author tinytext NOT NULL DEFAULT '',
  comment_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_content text NOT NULL DEFAULT '',
  comment_approved varchar(20) NOT NULL DEFAULT '1',
  comment_agent varchar(255) NOT NULL DEFAULT '',
  comment_type varchar(20) NOT NULL DEFAULT 'comment',
  PRIMARY KEY (comment_ID),
  KEY comment_post_ID (comment_post_ID)
) DEFAULT CHARSET=utf8mb4;

-- HPOS ("High-Performance Order Storage").
CREATE TABLE wp_wc_orders (
  id bigint(20) unsigned NOT NULL,
  status varchar(20) NULL,
  currency varchar(10) NULL,
  type varchar(20) NULL,
  tax_amount decimal(26,8) NULL,
  total_amount decimal(26,8) NULL,
  customer_id bigint(20) unsigned NULL,
  billing_email varchar(320) NULL,
  date_created_gmt datetime NULL,
  date_updated_gmt datetime NULL,
  parent_order_id bigint(20) unsigned NULL,
  payment_method varchar(100) NULL,
  payment_method_title text NULL,
  transaction_id varchar(100) NULL,
  ip_address varchar(100) NULL,
  user_agent text NULL,
  customer_note text NULL,
  PRIMARY KEY (id),
  KEY status (status),
  KEY date_created (date_created_gmt),
  KEY customer_id_billing_email (customer_id, billing_email(171)),
  KEY billing_email (billing_email(191)),
  KEY type_status_date (type, status, date_created_gmt),
  KEY parent_order_id (parent_order_id),
  KEY date_updated (date_updated_gmt)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_wc_order_addresses (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_id bigint(20) unsigned NOT NULL,
  address_type varchar(20) NULL,
  first_name text NULL,
  last_name text NULL,
  company text NULL,
  address_1 text NULL,
  address_2 text NULL,
  city text NULL,
  state text NULL,
  postcode text NULL,
  country text NULL,
  email varchar(320) NULL,
  phone varchar(100) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY address_type_order_id (address_type, order_id),
  KEY email (email(191)),
  KEY phone (phone),
  KEY order_id (order_id)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_wc_order_operational_data (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_id bigint(20) unsigned NULL,
  created_via varchar(100) NULL,
  woocommerce_version varchar(20) NULL,
  prices_include_tax tinyint(1) NULL,
  coupon_usages_are_counted tinyint(1) NULL,
  download_permission_granted tinyint(1) NULL,
  cart_hash varchar(100) NULL,
  new_order_email_sent tinyint(1) NULL,
  order_key varchar(100) NULL,
  order_stock_reduced tinyint(1) NULL,
  date_paid_gmt datetime NULL,
  date_completed_gmt datetime NULL,
  shipping_tax_amount decimal(26,8) NULL,
  shipping_total_amount decimal(26,8) NULL,
  discount_tax_amount decimal(26,8) NULL,
  discount_total_amount decimal(26,8) NULL,
  recorded_sales tinyint(1) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY order_id (order_id),
  KEY order_key (order_key)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_wc_orders_meta (
  id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_id bigint(20) unsigned NULL,
  meta_key varchar(255),
  meta_value text NULL,
  PRIMARY KEY (id),
  KEY meta_key_value (meta_key(100), meta_value(82)),
  KEY order_id_meta_key_meta_value (order_id, meta_key(100), meta_value(82))
) DEFAULT CHARSET=utf8mb4;

-- Line items, in both storages.
CREATE TABLE wp_woocommerce_order_items (
  order_item_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_item_name text NOT NULL,
  order_item_type varchar(200) NOT NULL DEFAULT '',
  order_id bigint(20) unsigned NOT NULL,
  PRIMARY KEY (order_item_id),
  KEY order_id (order_id)
) DEFAULT CHARSET=utf8mb4;

CREATE TABLE wp_woocommerce_order_itemmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_item_id bigint(20) unsigned NOT NULL,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext NULL,
  PRIMARY KEY (meta_id),
  KEY order_item_id (order_item_id),
  KEY meta_key (meta_key(32))
) DEFAULT CHARSET=utf8mb4;

-- A copy of product meta for fast queries, rewritten with REPLACE on every product save.
CREATE TABLE wp_wc_product_meta_lookup (
  product_id bigint(20) NOT NULL,
  sku varchar(100) NULL DEFAULT '',
  global_unique_id varchar(100) NULL DEFAULT '',
  `virtual` tinyint(1) NULL DEFAULT 0,
  downloadable tinyint(1) NULL DEFAULT 0,
  min_price decimal(19,4) NULL DEFAULT NULL,
  max_price decimal(19,4) NULL DEFAULT NULL,
  onsale tinyint(1) NULL DEFAULT 0,
  stock_quantity double NULL DEFAULT NULL,
  stock_status varchar(100) NULL DEFAULT 'instock',
  rating_count bigint(20) NULL DEFAULT 0,
  average_rating decimal(3,2) NULL DEFAULT 0.00,
  total_sales bigint(20) NULL DEFAULT 0,
  tax_status varchar(100) NULL DEFAULT 'taxable',
  tax_class varchar(100) NULL DEFAULT '',
  PRIMARY KEY (product_id),
  KEY `virtual` (`virtual`),
  KEY downloadable (downloadable),
  KEY stock_status (stock_status),
  KEY stock_quantity (stock_quantity),
  KEY onsale (onsale),
  KEY min_max_price (min_price, max_price)
) DEFAULT CHARSET=utf8mb4;

-- The store: HPOS without sync (WooCommerce 8.2+ installs), stock thresholds at their defaults.
-- demo.sh switches the storage options per run.
INSERT INTO wp_options (option_name, option_value) VALUES
  ('woocommerce_custom_orders_table_enabled', 'yes'),
  ('woocommerce_custom_orders_table_data_sync_enabled', 'no'),
  ('woocommerce_notify_low_stock_amount', '2'),
  ('woocommerce_notify_no_stock_amount', '0'),
  ('woocommerce_currency', 'PLN');

-- Products: coffee (the store's low-stock threshold, 2), cups (their own threshold, 10), and a
-- T-shirt whose variation has no threshold of its own and takes its parent's (3).
INSERT INTO wp_posts (ID, post_title, post_status, post_type, post_parent, post_date,
                      post_date_gmt, post_modified, post_modified_gmt) VALUES
  (10, 'Coffee beans 1 kg', 'publish', 'product', 0, NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP()),
  (11, 'Espresso cups', 'publish', 'product', 0, NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP()),
  (12, 'T-shirt', 'publish', 'product', 0, NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP()),
  (13, 'T-shirt - Blue, L', 'publish', 'product_variation', 12, NOW(), UTC_TIMESTAMP(), NOW(),
   UTC_TIMESTAMP());
INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES
  (10, '_sku', 'COF-1KG'), (10, '_manage_stock', 'yes'), (10, '_stock', '5'),
  (10, '_stock_status', 'instock'), (10, '_low_stock_amount', ''),
  (11, '_sku', 'CUP-ESP'), (11, '_manage_stock', 'yes'), (11, '_stock', '12'),
  (11, '_stock_status', 'instock'), (11, '_low_stock_amount', '10'),
  (12, '_sku', 'TS'), (12, '_manage_stock', 'no'), (12, '_stock', NULL),
  (12, '_stock_status', 'instock'), (12, '_low_stock_amount', '3'),
  (13, '_sku', 'TS-BLUE-L'), (13, '_manage_stock', 'yes'), (13, '_stock', '4'),
  (13, '_stock_status', 'instock'), (13, '_low_stock_amount', '');
INSERT INTO wp_wc_product_meta_lookup (product_id, sku, stock_quantity, stock_status) VALUES
  (10, 'COF-1KG', 5, 'instock'), (11, 'CUP-ESP', 12, 'instock'), (12, 'TS', NULL, 'instock'),
  (13, 'TS-BLUE-L', 4, 'instock');

DELIMITER //

-- Which storages a write goes to, from the options WooCommerce reads on every request.
CREATE PROCEDURE wc_storages(OUT p_hpos BOOLEAN, OUT p_sync BOOLEAN)
BEGIN
  SET p_hpos = COALESCE((SELECT option_value = 'yes' FROM wp_options
                         WHERE option_name = 'woocommerce_custom_orders_table_enabled'), FALSE);
  SET p_sync = COALESCE((SELECT option_value = 'yes' FROM wp_options
                         WHERE option_name = 'woocommerce_custom_orders_table_data_sync_enabled'),
                        FALSE);
END //

-- wc_update_product_stock(): one UPDATE of the `_stock` meta row (a relative one for sales and
-- returns, so concurrent orders cannot lose a sale), then the product is saved: its stock status,
-- and the lookup table rewritten with REPLACE. p_operation: set | increase | decrease.
CREATE PROCEDURE wc_update_product_stock(IN p_product BIGINT UNSIGNED, IN p_amount DECIMAL(20,6),
                                         IN p_operation VARCHAR(10))
BEGIN
  DECLARE stock DOUBLE;
  DECLARE no_stock DOUBLE;
  IF p_operation = 'increase' THEN
    UPDATE wp_postmeta SET meta_value = meta_value + p_amount
    WHERE post_id = p_product AND meta_key = '_stock';
  ELSEIF p_operation = 'decrease' THEN
    UPDATE wp_postmeta SET meta_value = meta_value - p_amount
    WHERE post_id = p_product AND meta_key = '_stock';
  ELSE
    UPDATE wp_postmeta SET meta_value = p_amount WHERE post_id = p_product AND meta_key = '_stock';
  END IF;
  SET stock = (SELECT meta_value FROM wp_postmeta WHERE post_id = p_product AND meta_key = '_stock');
  SET no_stock = (SELECT option_value FROM wp_options
                  WHERE option_name = 'woocommerce_notify_no_stock_amount');
  UPDATE wp_postmeta SET meta_value = IF(stock <= no_stock, 'outofstock', 'instock')
  WHERE post_id = p_product AND meta_key = '_stock_status'
    AND meta_value <> IF(stock <= no_stock, 'outofstock', 'instock');
  REPLACE INTO wp_wc_product_meta_lookup (product_id, sku, stock_quantity, stock_status)
  SELECT p_product, (SELECT meta_value FROM wp_postmeta WHERE post_id = p_product AND meta_key = '_sku'),
         stock, IF(stock <= no_stock, 'outofstock', 'instock');
  UPDATE wp_posts SET post_modified = NOW(), post_modified_gmt = UTC_TIMESTAMP() WHERE ID = p_product;
END //

-- Checkout: the order is created as "pending payment" with its billing address and one line
-- item. Its ID always comes from wp_posts: under HPOS WooCommerce reserves it with a placeholder
-- post, which compatibility mode then fills in as the order's copy.
CREATE PROCEDURE wc_place_order(IN p_first VARCHAR(100), IN p_last VARCHAR(100),
                                IN p_phone VARCHAR(100), IN p_country CHAR(2),
                                IN p_product BIGINT UNSIGNED, IN p_qty INT,
                                IN p_total DECIMAL(26,8), OUT p_order BIGINT UNSIGNED)
BEGIN
  DECLARE hpos, sync_on BOOLEAN;
  DECLARE order_key VARCHAR(100);
  DECLARE email VARCHAR(320);
  CALL wc_storages(hpos, sync_on);
  INSERT INTO wp_posts (post_type, post_status, post_title, post_date, post_date_gmt,
                        post_modified, post_modified_gmt, ping_status, comment_status)
  VALUES (IF(hpos, 'shop_order_placehold', 'shop_order'), IF(hpos, 'draft', 'wc-pending'),
          'Order', NOW(), UTC_TIMESTAMP(), NOW(), UTC_TIMESTAMP(), 'closed', 'closed');
  SET p_order = LAST_INSERT_ID();
  SET order_key = CONCAT('wc_order_', SUBSTRING(MD5(p_order), 1, 13));
  SET email = LOWER(CONCAT(p_first, '@example.com'));
  IF hpos OR sync_on THEN
    INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount, customer_id,
                              billing_email, date_created_gmt, date_updated_gmt, parent_order_id,
                              payment_method)
    VALUES (p_order, 'wc-pending', 'PLN', 'shop_order', 0, p_total, 0, email, UTC_TIMESTAMP(),
            UTC_TIMESTAMP(), 0, 'bacs');
    INSERT INTO wp_wc_order_addresses (order_id, address_type, first_name, last_name, country,
                                       email, phone)
    VALUES (p_order, 'billing', p_first, p_last, p_country, email, p_phone);
    INSERT INTO wp_wc_order_operational_data (order_id, created_via, woocommerce_version,
                                              order_key, order_stock_reduced,
                                              new_order_email_sent)
    VALUES (p_order, 'checkout', '9.4.0', order_key, 0, 0);
  END IF;
  IF NOT hpos OR sync_on THEN
    IF hpos THEN
      UPDATE wp_posts SET post_type = 'shop_order', post_status = 'wc-pending' WHERE ID = p_order;
    END IF;
    INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES
      (p_order, '_order_key', order_key), (p_order, '_customer_user', '0'),
      (p_order, '_payment_method', 'bacs'), (p_order, '_order_currency', 'PLN'),
      (p_order, '_order_total', p_total), (p_order, '_billing_first_name', p_first),
      (p_order, '_billing_last_name', p_last), (p_order, '_billing_email', email),
      (p_order, '_billing_phone', p_phone), (p_order, '_billing_country', p_country),
      (p_order, '_order_stock_reduced', 'no');
  END IF;
  INSERT INTO wp_woocommerce_order_items (order_item_name, order_item_type, order_id)
  VALUES ((SELECT post_title FROM wp_posts WHERE ID = p_product), 'line_item', p_order);
  INSERT INTO wp_woocommerce_order_itemmeta (order_item_id, meta_key, meta_value)
  VALUES (LAST_INSERT_ID(), '_product_id', p_product), (LAST_INSERT_ID(), '_qty', p_qty);
END //

-- Stock of the order's line items, down (p_sign -1) or back up (+1), once: the order remembers
-- that its stock was reduced (wc_maybe_reduce_stock_levels / wc_maybe_increase_stock_levels).
CREATE PROCEDURE wc_order_stock(IN p_order BIGINT UNSIGNED, IN p_sign INT)
BEGIN
  DECLARE hpos, sync_on, reduced, done BOOLEAN DEFAULT FALSE;
  DECLARE product BIGINT UNSIGNED;
  DECLARE qty INT;
  DECLARE items CURSOR FOR
    SELECT MAX(IF(m.meta_key = '_product_id', m.meta_value, NULL)),
           MAX(IF(m.meta_key = '_qty', m.meta_value, NULL))
    FROM wp_woocommerce_order_items i JOIN wp_woocommerce_order_itemmeta m
      ON m.order_item_id = i.order_item_id
    WHERE i.order_id = p_order AND i.order_item_type = 'line_item'
    GROUP BY i.order_item_id ORDER BY i.order_item_id;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = TRUE;
  CALL wc_storages(hpos, sync_on);
  IF hpos THEN
    SET reduced = COALESCE((SELECT order_stock_reduced FROM wp_wc_order_operational_data
                            WHERE order_id = p_order), 0) = 1;
  ELSE
    SET reduced = COALESCE((SELECT meta_value FROM wp_postmeta WHERE post_id = p_order
                            AND meta_key = '_order_stock_reduced'), 'no') = 'yes';
  END IF;
  IF reduced = (p_sign < 0) THEN
    -- Already in the wanted state: nothing to move.
    SET done = TRUE;
  ELSE
    OPEN items;
    item_loop: LOOP
      FETCH items INTO product, qty;
      IF done THEN
        LEAVE item_loop;
      END IF;
      CALL wc_update_product_stock(product, qty, IF(p_sign < 0, 'decrease', 'increase'));
    END LOOP;
    CLOSE items;
    IF hpos OR sync_on THEN
      UPDATE wp_wc_order_operational_data SET order_stock_reduced = (p_sign < 0)
      WHERE order_id = p_order;
    END IF;
    IF NOT hpos OR sync_on THEN
      UPDATE wp_postmeta SET meta_value = IF(p_sign < 0, 'yes', 'no')
      WHERE post_id = p_order AND meta_key = '_order_stock_reduced';
    END IF;
  END IF;
END //

-- $order->update_status(): the authoritative storage first, then (compatibility mode) the
-- other one, then the order note. Saving an order writes its status even when it is unchanged,
-- as WooCommerce does when a status is applied twice. Paid and on-hold orders take their
-- stock; cancelled ones give it back.
CREATE PROCEDURE wc_update_status(IN p_order BIGINT UNSIGNED, IN p_status VARCHAR(20))
BEGIN
  DECLARE hpos, sync_on BOOLEAN;
  DECLARE old_status VARCHAR(20);
  CALL wc_storages(hpos, sync_on);
  IF hpos THEN
    SET old_status = (SELECT status FROM wp_wc_orders WHERE id = p_order);
    UPDATE wp_wc_orders SET status = p_status, date_updated_gmt = UTC_TIMESTAMP()
    WHERE id = p_order;
    IF sync_on THEN
      UPDATE wp_posts SET post_status = p_status, post_modified = NOW(),
                          post_modified_gmt = UTC_TIMESTAMP()
      WHERE ID = p_order;
    END IF;
  ELSE
    SET old_status = (SELECT post_status FROM wp_posts WHERE ID = p_order);
    UPDATE wp_posts SET post_status = p_status, post_modified = NOW(),
                        post_modified_gmt = UTC_TIMESTAMP()
    WHERE ID = p_order;
    IF sync_on THEN
      UPDATE wp_wc_orders SET status = p_status, date_updated_gmt = UTC_TIMESTAMP()
      WHERE id = p_order;
    END IF;
  END IF;
  IF old_status <> p_status THEN
    INSERT INTO wp_comments (comment_post_ID, comment_author, comment_date, comment_date_gmt,
                             comment_content, comment_agent, comment_type)
    VALUES (p_order, 'WooCommerce', NOW(), UTC_TIMESTAMP(),
            CONCAT('Order status changed from ', old_status, ' to ', p_status, '.'),
            'WooCommerce', 'order_note');
  END IF;
  IF p_status IN ('wc-processing', 'wc-completed', 'wc-on-hold') THEN
    CALL wc_order_stock(p_order, -1);
  ELSEIF p_status IN ('wc-cancelled', 'wc-pending') THEN
    CALL wc_order_stock(p_order, 1);
  END IF;
END //

DELIMITER ;
