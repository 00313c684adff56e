-- AlterEnum
ALTER TYPE "notification"."NotificationKind" ADD VALUE 'NEW_ORDERS_SUMMARY';

-- CreateTable
CREATE TABLE "notification"."new_order_windows" (
    "admin_id" UUID NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "ends_at" TIMESTAMPTZ(3) NOT NULL,
    "due_at" TIMESTAMPTZ(3) NOT NULL,
    "orders" INTEGER NOT NULL DEFAULT 1,
    "told" INTEGER NOT NULL DEFAULT 1,
    "first_number" TEXT NOT NULL,
    "last_number" TEXT NOT NULL,

    CONSTRAINT "new_order_windows_pkey" PRIMARY KEY ("admin_id","starts_at")
);

-- CreateIndex
CREATE INDEX "new_order_windows_due_at_idx" ON "notification"."new_order_windows"("due_at");
