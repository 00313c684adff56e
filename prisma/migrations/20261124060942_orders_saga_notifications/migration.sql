-- CreateEnum
CREATE TYPE "order"."SagaStep" AS ENUM ('NONE', 'RESERVING', 'COMMITTING', 'RELEASING');

-- CreateEnum
CREATE TYPE "notification"."TelegramDelivery" AS ENUM ('PENDING', 'SENT', 'FAILED', 'SKIPPED');

-- DropIndex
DROP INDEX "order"."orders_number_key";

-- DropIndex
DROP INDEX "order"."orders_user_id_idx";

-- AlterTable
ALTER TABLE "notification"."notifications" ADD COLUMN     "event_id" UUID,
ADD COLUMN     "telegram_attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "telegram_error" TEXT,
ADD COLUMN     "telegram_message_id" BIGINT,
ADD COLUMN     "telegram_next_attempt_at" TIMESTAMPTZ(3),
ADD COLUMN     "telegram_status" "notification"."TelegramDelivery" NOT NULL DEFAULT 'PENDING';

-- AlterTable
ALTER TABLE "order"."orders" DROP COLUMN "number",
ADD COLUMN     "cancel_reason" TEXT,
ADD COLUMN     "confirmation_deadline" TIMESTAMPTZ(3),
ADD COLUMN     "idempotency_key" TEXT NOT NULL,
ADD COLUMN     "saga_attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "saga_next_attempt_at" TIMESTAMPTZ(3),
ADD COLUMN     "saga_step" "order"."SagaStep" NOT NULL DEFAULT 'NONE',
ADD COLUMN     "saga_target" "order"."OrderStatus",
ADD COLUMN     "seq" BIGSERIAL NOT NULL,
ALTER COLUMN "total_amount" DROP DEFAULT,
ALTER COLUMN "currency" DROP DEFAULT;

-- CreateTable
CREATE TABLE "order"."order_lines" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "product_id" UUID NOT NULL,
    "product_name" TEXT NOT NULL,
    "quantity" INTEGER NOT NULL,
    "unit_price_amount" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL,

    CONSTRAINT "order_lines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order"."order_status_changes" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "from" "order"."OrderStatus",
    "to" "order"."OrderStatus" NOT NULL,
    "reason" TEXT,
    "actor" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "order_status_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order"."outbox_events" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "stream" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification"."telegram_chats" (
    "chat_id" BIGINT NOT NULL,
    "user_id" UUID NOT NULL,
    "telegram_user_id" BIGINT NOT NULL,
    "blocked_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "telegram_chats_pkey" PRIMARY KEY ("chat_id")
);

-- CreateTable
CREATE TABLE "notification"."processed_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "order_lines_order_id_position_key" ON "order"."order_lines"("order_id", "position");

-- CreateIndex
CREATE INDEX "order_status_changes_order_id_created_at_idx" ON "order"."order_status_changes"("order_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_events_seq_key" ON "order"."outbox_events"("seq");

-- CreateIndex
CREATE INDEX "outbox_events_published_at_seq_idx" ON "order"."outbox_events"("published_at", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "telegram_chats_user_id_key" ON "notification"."telegram_chats"("user_id");

-- CreateIndex
CREATE INDEX "notifications_telegram_status_telegram_next_attempt_at_idx" ON "notification"."notifications"("telegram_status", "telegram_next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_event_id_user_id_kind_key" ON "notification"."notifications"("event_id", "user_id", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "orders_seq_key" ON "order"."orders"("seq");

-- CreateIndex
CREATE INDEX "orders_user_id_created_at_idx" ON "order"."orders"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "orders_status_created_at_idx" ON "order"."orders"("status", "created_at");

-- CreateIndex
CREATE INDEX "orders_saga_step_saga_next_attempt_at_idx" ON "order"."orders"("saga_step", "saga_next_attempt_at");

-- CreateIndex
CREATE UNIQUE INDEX "orders_user_id_idempotency_key_key" ON "order"."orders"("user_id", "idempotency_key");

-- AddForeignKey
ALTER TABLE "order"."order_lines" ADD CONSTRAINT "order_lines_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "order"."orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "order"."order_status_changes" ADD CONSTRAINT "order_status_changes_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "order"."orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Written by hand: what schema.prisma cannot say.
ALTER TABLE "order"."order_lines" ADD CONSTRAINT "order_lines_quantity_check" CHECK ("quantity" > 0 AND "unit_price_amount" >= 0);
ALTER TABLE "order"."orders" ADD CONSTRAINT "orders_total_check" CHECK ("total_amount" >= 0);
