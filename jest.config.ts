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
  testTimeout: 30000,
  // Test files share the run's database, and services' background workers (outbox relays, saga
  // workers, senders) read whole tables: one file at a time keeps each stack to its own events.
  maxWorkers: 1,
};

export default config;
