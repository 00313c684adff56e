-- Written by hand: what schema.prisma cannot say.

-- Each service works as its own role, shop_<schema>, which reaches its own schema and nothing else
-- of the other services', so PostgreSQL, not good manners, keeps a service out of another's tables.
-- The roles cannot log in: a service connects as a member of its role and switches to it
-- (DATABASE_ROLE), or, in production, logs in as a login role made for it (see the README).
-- `public` holds pg_trgm (its functions are PUBLIC's to execute) and the migrations' own table, which
-- only the migrating user touches.
DO $$
DECLARE
  service text;
  service_role text;
BEGIN
  FOREACH service IN ARRAY ARRAY['auth', 'catalog', 'inventory', 'order', 'notification'] LOOP
    service_role := 'shop_' || service;
    -- Roles belong to the whole server: another database (or one migrated at the same moment from
    -- the same folder, as the tests do) may have made it already.
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = service_role) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', service_role);
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', service, service_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', service, service_role);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', service, service_role);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', service, service_role);
    -- Tables, sequences and functions that later migrations (run by this same user) add to the schema.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', service, service_role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', service, service_role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I', service, service_role);
  END LOOP;
END
$$;
