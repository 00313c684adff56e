-- AlterTable
CREATE SEQUENCE "inventory".inventory_items_version_seq;
ALTER TABLE "inventory"."inventory_items" ALTER COLUMN "version" SET DEFAULT nextval('"inventory".inventory_items_version_seq');
ALTER SEQUENCE "inventory".inventory_items_version_seq OWNED BY "inventory"."inventory_items"."version";

-- Written by hand: what schema.prisma cannot say.

-- The sequence outlives the rows, so a product's StockChanged versions keep increasing when its
-- item is deleted and created again. It starts above every version handed out so far: the items',
-- the catalog's projection and every StockChanged event in the outbox (no consumer saw others).
SELECT setval('"inventory".inventory_items_version_seq', GREATEST(
  (SELECT max("version") FROM "inventory"."inventory_items"),
  (SELECT max("stock_version") FROM "catalog"."products"),
  (SELECT max(("payload"->>'version')::bigint) FROM "inventory"."outbox_events" WHERE "type" = 'StockChanged'),
  1));

-- Every item takes a version above any the catalog holds: the next resync repairs products left
-- out of stock by an earlier delete and recreate.
UPDATE "inventory"."inventory_items" SET "version" = nextval('"inventory".inventory_items_version_seq');
