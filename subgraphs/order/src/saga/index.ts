// The order saga in three parts: steps.ts (what each step does and what its outcomes lead to),
// store.ts (the saga's state on the order rows), worker.ts (the loop that resumes due sagas);
// order-saga.ts runs the steps.
export { OrderSaga, type SagaSettings } from './order-saga';
export { SagaWorker } from './worker';
export { CANCELLED_BY_CUSTOMER, INVENTORY_UNAVAILABLE, NOT_CONFIRMED_IN_TIME } from './steps';
