-- Written by hand: what schema.prisma cannot say (a partitioned table, a trigger).

-- What a search reads, kept apart from the products: a search ranks every match, so it reads every
-- matching row, and in `products` a category's rows lie one to a heap page among the other columns.
-- Here only the live products, with just what a search filters, sorts and ranks on, partitioned by a
-- hash of the category: a category's rows share a few partitions' pages (about 3x less time per search
-- at 100,000 products, docs/benchmarks.md). The search_vector is the product's, so ranks are the same.
CREATE TABLE "catalog"."product_search" (
  "category"      TEXT NOT NULL,
  "id"            UUID NOT NULL,
  "price_amount"  INTEGER NOT NULL,
  "in_stock"      BOOLEAN NOT NULL,
  "created_at"    TIMESTAMPTZ(3) NOT NULL,
  "search_vector" tsvector,
  PRIMARY KEY ("category", "id")
) PARTITION BY HASH ("category");

DO $$
BEGIN
  FOR i IN 0..31 LOOP
    EXECUTE format('CREATE TABLE "catalog"."product_search_%s" PARTITION OF "catalog"."product_search" FOR VALUES WITH (MODULUS 32, REMAINDER %s)', i, i);
  END LOOP;
END
$$;

CREATE INDEX "product_search_search_vector_idx" ON "catalog"."product_search" USING GIN ("search_vector");

-- Kept in the transaction of every product write (create, update, soft delete, the stock projection).
-- AFTER, so search_vector is the one the BEFORE trigger computed.
CREATE FUNCTION "catalog"."products_sync_search"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM "catalog"."product_search" WHERE "category" = OLD."category" AND "id" = OLD."id";
  END IF;
  IF TG_OP <> 'DELETE' AND NEW."deleted_at" IS NULL THEN
    INSERT INTO "catalog"."product_search" ("category", "id", "price_amount", "in_stock", "created_at", "search_vector")
    VALUES (NEW."category", NEW."id", NEW."price_amount", NEW."in_stock", NEW."created_at", NEW."search_vector");
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER "products_sync_search" AFTER INSERT OR DELETE ON "catalog"."products"
  FOR EACH ROW EXECUTE FUNCTION "catalog"."products_sync_search"();
CREATE TRIGGER "products_sync_search_update" AFTER UPDATE ON "catalog"."products"
  FOR EACH ROW WHEN (
    (OLD."category", OLD."id", OLD."price_amount", OLD."in_stock", OLD."created_at", OLD."search_vector", OLD."deleted_at")
      IS DISTINCT FROM (NEW."category", NEW."id", NEW."price_amount", NEW."in_stock", NEW."created_at", NEW."search_vector", NEW."deleted_at")
  ) EXECUTE FUNCTION "catalog"."products_sync_search"();

INSERT INTO "catalog"."product_search" ("category", "id", "price_amount", "in_stock", "created_at", "search_vector")
SELECT "category", "id", "price_amount", "in_stock", "created_at", "search_vector" FROM "catalog"."products" WHERE "deleted_at" IS NULL;
