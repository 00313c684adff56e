import type { Config } from 'jest';

const swc = (syntax: 'typescript' | 'ecmascript'): [string, Record<string, unknown>] => ['@swc/jest', { jsc: { parser: { syntax }, target: 'es2022' } }];

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/subgraphs', '<rootDir>/gateway', '<rootDir>/kernel'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': swc('typescript'),
    '^.+\\.m?js$': swc('ecmascript'),
  },
  // ESM-only packages compiled to CommonJS like our code: jose, node-telegram-bot-api, and the
  // JS glue of Prisma's wasm schema engine (scripts/db/schema-engine.ts requires it).
  transformIgnorePatterns: ['/node_modules/(?!(jose|node-telegram-bot-api|@prisma/schema-engine-wasm)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // A database per test file, copied from the run's migrated template: files run side by side.
  setupFilesAfterEnv: ['<rootDir>/test/support/file-database.ts'],
  reporters: ['default', '<rootDir>/test/support/failed-test-logs.js'],
  testTimeout: 30000,
  // Most of a test's time is waiting (on PostgreSQL, Redis, timers), so more workers than cores pay.
  maxWorkers: Number(process.env.JEST_WORKERS ?? 3),
};

export default config;
