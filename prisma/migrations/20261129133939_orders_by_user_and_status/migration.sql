-- CreateIndex
CREATE INDEX "orders_user_id_status_idx" ON "order"."orders"("user_id", "status");
