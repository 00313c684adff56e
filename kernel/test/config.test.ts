import { z } from 'zod';
import { ConfigError, env, loadConfig } from '../src/config';

describe('loadConfig', () => {
  const shape = { PORT: env.port(4000), DATABASE_URL: z.string().regex(/^postgres/, { message: 'must be a postgresql:// URL' }), FLAGS: env.list() };

  it('applies defaults and parses lists', () => {
    expect(loadConfig(shape, { DATABASE_URL: 'postgresql://x', FLAGS: 'a, b,,c' })).toEqual({ PORT: 4000, DATABASE_URL: 'postgresql://x', FLAGS: ['a', 'b', 'c'] });
  });

  it('names a missing variable in one line', () => {
    expect(() => loadConfig(shape, {})).toThrow(new ConfigError('Invalid configuration: DATABASE_URL is required'));
  });

  it('names a malformed variable in one line', () => {
    let message = '';
    try {
      loadConfig(shape, { DATABASE_URL: 'postgresql://x', PORT: 'eighty' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: PORT /);
    expect(message).not.toContain('\n');
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig(shape, { DATABASE_URL: 'postgresql://x', PORT: '' }).PORT).toBe(4000);
  });
});
