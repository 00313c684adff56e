-- AlterTable
ALTER TABLE "inventory"."outbox_events" ADD COLUMN     "request_id" TEXT,
ADD COLUMN     "traceparent" TEXT;

-- AlterTable
ALTER TABLE "notification"."notifications" ADD COLUMN     "request_id" TEXT,
ADD COLUMN     "traceparent" TEXT;

-- AlterTable
ALTER TABLE "order"."orders" ADD COLUMN     "request_id" TEXT,
ADD COLUMN     "traceparent" TEXT;

-- AlterTable
ALTER TABLE "order"."outbox_events" ADD COLUMN     "request_id" TEXT,
ADD COLUMN     "traceparent" TEXT;
