-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "pg_trgm" WITH SCHEMA "public";

-- CreateEnum
CREATE TYPE "inventory"."ReservationStatus" AS ENUM ('RESERVED', 'RELEASED', 'COMMITTED');

-- DropIndex
DROP INDEX "catalog"."products_category_idx";

-- AlterTable
ALTER TABLE "catalog"."products" ADD COLUMN     "search_vector" tsvector,
ADD COLUMN     "stock_version" BIGINT NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "inventory"."inventory_items" ADD COLUMN     "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "version" BIGINT NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "catalog"."search_words" (
    "word" TEXT NOT NULL,

    CONSTRAINT "search_words_pkey" PRIMARY KEY ("word")
);

-- CreateTable
CREATE TABLE "catalog"."processed_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateTable
CREATE TABLE "inventory"."stock_movements" (
    "id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "delta_on_hand" INTEGER NOT NULL,
    "delta_reserved" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "order_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_movements_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inventory"."reservations" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "status" "inventory"."ReservationStatus" NOT NULL DEFAULT 'RESERVED',
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inventory"."outbox_events" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "stream" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "search_words_word_trgm_idx" ON "catalog"."search_words" USING GIN ("word" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "stock_movements_product_id_created_at_idx" ON "inventory"."stock_movements"("product_id", "created_at");

-- CreateIndex
CREATE INDEX "reservations_status_expires_at_idx" ON "inventory"."reservations"("status", "expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "reservations_order_id_product_id_key" ON "inventory"."reservations"("order_id", "product_id");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_events_seq_key" ON "inventory"."outbox_events"("seq");

-- CreateIndex
CREATE INDEX "outbox_events_published_at_seq_idx" ON "inventory"."outbox_events"("published_at", "seq");

-- CreateIndex
CREATE INDEX "products_search_vector_idx" ON "catalog"."products" USING GIN ("search_vector");

-- CreateIndex
CREATE INDEX "products_category_price_amount_idx" ON "catalog"."products"("category", "price_amount");

-- CreateIndex
CREATE INDEX "products_created_at_idx" ON "catalog"."products"("created_at");

-- Written by hand: what schema.prisma cannot say.

-- Stock can never be oversold: the database refuses it, whatever the code does.
ALTER TABLE "inventory"."inventory_items"
  ADD CONSTRAINT "inventory_items_stock_check" CHECK ("reserved" >= 0 AND "on_hand" >= "reserved" AND "low_stock_threshold" >= 0);
ALTER TABLE "inventory"."reservations" ADD CONSTRAINT "reservations_quantity_check" CHECK ("quantity" > 0);
ALTER TABLE "catalog"."products" ADD CONSTRAINT "products_price_check" CHECK ("price_amount" >= 0);

-- The search document: name weighs most, then category, then description (English stemming).
CREATE FUNCTION "catalog"."products_search_vector"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('english', coalesce(NEW.name, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(NEW.category, '')), 'B') ||
    setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
  RETURN NEW;
END
$$;
CREATE TRIGGER "products_search_vector" BEFORE INSERT OR UPDATE OF "name", "category", "description"
  ON "catalog"."products" FOR EACH ROW EXECUTE FUNCTION "catalog"."products_search_vector"();
UPDATE "catalog"."products" SET "name" = "name";
