alter table orders rename constraint orders_qty_check to qty_not_negative
-- renders as:
ALTER TABLE orders RENAME CONSTRAINT orders_qty_check TO qty_not_negative
