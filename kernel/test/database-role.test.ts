import { env, loadConfig } from '../src/config';
import { withRole } from '../src/prisma';

describe('DATABASE_ROLE', () => {
  const shape = { DATABASE_ROLE: env.databaseRole('shop_order') };

  it("defaults to the service's own role; `none` means no switch", () => {
    expect(loadConfig(shape, {}).DATABASE_ROLE).toBe('shop_order');
    expect(loadConfig(shape, { DATABASE_ROLE: 'order_login' }).DATABASE_ROLE).toBe('order_login');
    expect(loadConfig(shape, { DATABASE_ROLE: 'none' }).DATABASE_ROLE).toBeUndefined();
  });

  it('refuses what is not a plain role name (it goes into the connection options)', () => {
    expect(() => loadConfig(shape, { DATABASE_ROLE: 'shop_order -c statement_timeout=0' })).toThrow(/^Invalid configuration: DATABASE_ROLE must be a role name, or none$/);
  });
});

describe('withRole', () => {
  // node-postgres reads the query as URLSearchParams do (a `+` is a space), and the rest of the URL as it was.
  const split = (url: string) => {
    const [address, query] = url.split('?');
    return { address, params: Object.fromEntries(new URLSearchParams(query)) };
  };

  it('asks for the role in the connection options and keeps the rest of the URL', () => {
    expect(split(withRole('postgresql://postgres@127.0.0.1:5432/shop', 'shop_auth'))).toEqual({
      address: 'postgresql://postgres@127.0.0.1:5432/shop',
      params: { options: '-c role=shop_auth' },
    });
    expect(split(withRole('postgres://u:p%40ss%2Fw@db:5432/shop?sslmode=verify-full&options=-c%20search_path%3Dx', 'shop_auth'))).toEqual({
      address: 'postgres://u:p%40ss%2Fw@db:5432/shop',
      params: { sslmode: 'verify-full', options: '-c search_path=x -c role=shop_auth' },
    });
  });

  it('takes a socket URL, which the WHATWG URL parser refuses', () => {
    expect(split(withRole('postgresql://postgres@/shop?host=/var/run/postgresql', 'shop_auth'))).toEqual({
      address: 'postgresql://postgres@/shop',
      params: { host: '/var/run/postgresql', options: '-c role=shop_auth' },
    });
  });
});
