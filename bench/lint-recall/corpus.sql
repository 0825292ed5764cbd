-- The recall / false-positive corpus of bench/lint-recall.mjs, written from the peers' own
-- documentation: squawk (docs/docs/<rule>.md), strong_migrations (README, translated from its
-- Rails API to the SQL Rails runs), eugene (docs/src/hints/<hint>) and Atlas (lint analyzers).
-- Each case is an unsafe example the peer documents, or the safe alternative it documents for it,
-- as migrations: "-- next" starts the next migration of the case (a peer's set-up migration, or
-- a rewrite in several steps). Cases are named <peer>/<rule or check>/<variant>.
-- Only what applies to SQL migration files is here; style-only rules (squawk's prefer-*) are not.
-- Where a peer shows a concurrent index build together with other statements in one block, they
-- are separate migrations here: a migration run in a transaction (berth's, Rails', Alembic's
-- default) cannot hold both, as the peers' own text says.

-- case squawk/adding-field-with-default/volatile: unsafe
ALTER TABLE "core_recipe" ADD COLUMN "foo" uuid DEFAULT gen_random_uuid() NOT NULL;
-- case squawk/adding-field-with-default/non-volatile-pg11: safe
SET lock_timeout = '1s';
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10 NOT NULL;
-- case squawk/adding-field-with-default/add-then-set-default: safe
SET lock_timeout = '1s';
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET DEFAULT 10;
-- case squawk/adding-field-with-default/generated-stored: unsafe
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer GENERATED ALWAYS as ("bar" + "baz") STORED;
-- case squawk/adding-field-with-default/generated-as-trigger: safe
SET lock_timeout = '1s';
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;
CREATE FUNCTION foo_update_trigger() RETURNS trigger AS '
BEGIN
NEW.foo := NEW.bar + NEW.baz;
RETURN NEW;
END' LANGUAGE 'plpgsql';
CREATE TRIGGER update_foo_column BEFORE INSERT ON core_recipe FOR EACH ROW EXECUTE PROCEDURE foo_update_trigger();
-- case squawk/adding-foreign-key-constraint/existing-table: unsafe
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id");
-- case squawk/adding-foreign-key-constraint/not-valid-then-validate: safe
SET lock_timeout = '1s';
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;
-- next
ALTER TABLE "email" VALIDATE CONSTRAINT "fk_user";
-- case squawk/adding-foreign-key-constraint/new-table: safe
SET lock_timeout = '1s';
CREATE TABLE email (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id BIGINT,
    email TEXT,
    PRIMARY KEY(id),
    CONSTRAINT fk_user FOREIGN KEY ("user_id") REFERENCES "user" ("id")
);
-- case squawk/adding-not-nullable-field/set-not-null: unsafe
ALTER TABLE "recipe" ALTER COLUMN "view_count" SET NOT NULL;
-- case squawk/adding-not-nullable-field/check-constraint: safe
SET lock_timeout = '1s';
ALTER TABLE "recipe" ADD CONSTRAINT view_count_not_null CHECK ("view_count" IS NOT NULL) NOT VALID;
-- next
ALTER TABLE "recipe" VALIDATE CONSTRAINT view_count_not_null;
-- next
SET lock_timeout = '1s';
ALTER TABLE "recipe" ALTER COLUMN "view_count" SET NOT NULL;
-- case squawk/adding-required-field/no-default: unsafe
ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL;
-- case squawk/adding-required-field/nullable: safe
SET lock_timeout = '1s';
ALTER TABLE "recipe" ADD COLUMN "public" boolean;
-- case squawk/adding-required-field/non-volatile-default: safe
SET lock_timeout = '1s';
ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL DEFAULT false;
-- case squawk/adding-serial-primary-key-field/add-primary-key: unsafe
ALTER TABLE account ADD PRIMARY KEY (id);
-- case squawk/adding-serial-primary-key-field/using-index: safe
CREATE TABLE account (id bigint NOT NULL, name text);
-- next
CREATE UNIQUE INDEX CONCURRENTLY account_pk_idx ON account (id);
-- next
SET lock_timeout = '1s';
ALTER TABLE account ADD CONSTRAINT account_pk PRIMARY KEY USING INDEX account_pk_idx;
-- case squawk/ban-alter-domain-with-add-constraint/add: unsafe
ALTER DOMAIN domain_name_1 ADD CONSTRAINT constraint_name CHECK (value > 0);
-- case squawk/ban-create-domain-with-constraint/create: unsafe
CREATE DOMAIN domain_name_3 AS NUMERIC(15,5) CHECK (value > 0);
-- case squawk/ban-create-domain-with-constraint/plain-domain: safe
CREATE DOMAIN domain_name_3 AS NUMERIC(15,5);
-- case squawk/ban-concurrent-index-creation-in-transaction/wrapped: unsafe
BEGIN;
CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");
COMMIT;
-- case squawk/ban-concurrent-index-creation-in-transaction/with-other-statements: unsafe
SET lock_timeout = '1s';
ALTER TABLE "app_user" ADD COLUMN "email" text;
CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");
-- case squawk/ban-concurrent-index-creation-in-transaction/alone: safe
CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");
-- case squawk/ban-drop-column/drop: unsafe
ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;
-- case squawk/ban-drop-database/drop: unsafe
DROP DATABASE "table_name";
-- case squawk/ban-drop-not-null/drop: unsafe
ALTER TABLE "bar_tbl" ALTER COLUMN "foo_col" DROP NOT NULL;
-- case squawk/ban-drop-table/drop: unsafe
DROP TABLE "table_name";
-- case squawk/ban-truncate-cascade/cascade: unsafe
truncate a cascade;
-- case squawk/ban-truncate-cascade/named-tables: safe
SET lock_timeout = '1s';
truncate a, b;
-- case squawk/ban-uncommitted-transaction/no-commit: unsafe
-- berth:no-transaction
begin;
create table users (id bigint);
-- case squawk/ban-uncommitted-transaction/committed: safe
-- berth:no-transaction
begin;
create table users (id bigint);
commit;
-- case squawk/changing-column-type/int-to-bigint: unsafe
ALTER TABLE "core_recipe" ALTER COLUMN "edits" TYPE bigint USING "edits"::bigint;
-- case squawk/changing-column-type/new-column: safe
SET lock_timeout = '1s';
ALTER TABLE "user_email" ADD COLUMN "new_user_id" bigint;
-- case squawk/constraint-missing-not-valid/check: unsafe
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0);
-- case squawk/constraint-missing-not-valid/check-validate-same-transaction: unsafe
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT positive_balance;
-- case squawk/constraint-missing-not-valid/two-migrations: safe
SET lock_timeout = '1s';
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0) NOT VALID;
-- next
ALTER TABLE accounts VALIDATE CONSTRAINT positive_balance;
-- case squawk/disallowed-unique-constraint/add-unique: unsafe
ALTER TABLE distributors ADD CONSTRAINT dist_id_uniq UNIQUE (dist_id);
-- case squawk/disallowed-unique-constraint/add-column-unique: unsafe
ALTER TABLE distributors ADD COLUMN dist_id text CONSTRAINT dist_id_uniq UNIQUE;
-- case squawk/disallowed-unique-constraint/using-index: safe
CREATE UNIQUE INDEX CONCURRENTLY dist_id_uniq ON distributors (dist_id);
-- next
SET lock_timeout = '1s';
ALTER TABLE distributors ADD CONSTRAINT distributors_dist_id_key UNIQUE USING INDEX dist_id_uniq;
-- case squawk/disallowed-unique-constraint/new-column-then-index: safe
SET lock_timeout = '1s';
ALTER TABLE distributors ADD COLUMN dist_id text;
-- next
CREATE UNIQUE INDEX CONCURRENTLY dist_id_uniq ON distributors (dist_id);
-- next
SET lock_timeout = '1s';
ALTER TABLE distributors ADD CONSTRAINT distributors_dist_id_key UNIQUE USING INDEX dist_id_uniq;
-- case squawk/identifier-too-long/table-and-column: unsafe
create table table_very_long_very_long_very_long_very_long_very_long_very_long (
  column_very_long_very_long_very_long_very_long_very_long_very_long bigint
);
-- case squawk/identifier-too-long/shortened: safe
create table a_shorter_table_name (
  a_shorter_column_name bigint
);
-- case squawk/ban-duplicate-column-assignments/table: unsafe
create table t(a int, a text);
-- case squawk/ban-duplicate-column-assignments/update: unsafe
update t set a = 1, a = 2 where id = 1;
-- case squawk/ban-duplicate-column-assignments/fixed: safe
create table t(a int);
create view v (a, b) as select 1, 2;
-- case squawk/renaming-column/rename: unsafe
ALTER TABLE "table_name" RENAME COLUMN "column_name" TO "new_column_name";
-- case squawk/renaming-table/rename: unsafe
ALTER TABLE "table_name" RENAME TO "new_table_name";
-- case squawk/renaming-table/view-first: safe
CREATE VIEW user_favorites AS SELECT * FROM user_stars;
-- case squawk/require-concurrent-index-creation/create: unsafe
CREATE INDEX "email_idx" ON "app_user" ("email");
-- case squawk/require-concurrent-index-creation/concurrently: safe
CREATE INDEX CONCURRENTLY "email_idx" ON "app_user" ("email");
-- case squawk/require-concurrent-index-creation/new-table: safe
CREATE TABLE "app_user" (id bigint PRIMARY KEY, email text);
CREATE INDEX "email_idx" ON "app_user" ("email");
-- case squawk/require-concurrent-index-deletion/drop: unsafe
DROP INDEX "app"."email_idx";
-- case squawk/require-concurrent-index-deletion/concurrently: safe
DROP INDEX CONCURRENTLY "app"."email_idx";
-- case squawk/require-concurrent-partition-detach/detach: unsafe
ALTER TABLE t DETACH PARTITION p;
-- case squawk/require-concurrent-partition-detach/concurrently: safe
ALTER TABLE t DETACH PARTITION p CONCURRENTLY;
-- case squawk/require-concurrent-reindex/table: unsafe
REINDEX TABLE foo;
-- case squawk/require-concurrent-reindex/index: unsafe
REINDEX INDEX foo_idx;
-- case squawk/require-concurrent-reindex/concurrently: safe
REINDEX TABLE CONCURRENTLY foo;
-- case squawk/require-enum-value-ordering/append: unsafe
ALTER TYPE status ADD VALUE 'pending_review';
-- case squawk/require-enum-value-ordering/before: safe
ALTER TYPE status ADD VALUE 'pending_review' BEFORE 'approved';
-- case squawk/require-enum-value-ordering/after: safe
ALTER TYPE status ADD VALUE 'pending_review' AFTER 'submitted';
-- case squawk/require-lock-timeout/missing: unsafe
alter table t add column c boolean;
-- case squawk/require-lock-timeout/set: safe
set lock_timeout = '1s';
alter table t add column c boolean;
-- case squawk/transaction-nesting/commit-inside: unsafe
CREATE TABLE a (id bigint);
COMMIT;
-- case squawk/transaction-nesting/nested-begin: unsafe
BEGIN;
CREATE TABLE a (id bigint);
BEGIN;
CREATE TABLE b (id bigint);
COMMIT;
COMMIT;
-- case squawk/transaction-nesting/one-wrapper: safe
BEGIN;
CREATE TABLE a (id bigint);
CREATE TABLE b (id bigint);
COMMIT;
-- case squawk/prefer-repack/vacuum-full: unsafe
vacuum full t;
-- case squawk/prefer-repack/cluster: unsafe
cluster t using t_pkey;

-- case strong_migrations/removing-a-column/remove: unsafe
ALTER TABLE "users" DROP COLUMN "some_column";
-- case strong_migrations/removing-a-column/after-ignored-columns: safe
SET lock_timeout = '1s';
-- berth:allow drop-column the application ignores some_column since the previous deploy (ignored_columns)
-- squawk-ignore ban-drop-column
ALTER TABLE "users" DROP COLUMN "some_column";
-- case strong_migrations/changing-the-type-of-a-column/change: unsafe
ALTER TABLE "users" ALTER COLUMN "some_column" TYPE bigint;
-- case strong_migrations/changing-the-type-of-a-column/new-column: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "some_column_new" bigint;
-- case strong_migrations/renaming-a-column/rename: unsafe
ALTER TABLE "users" RENAME COLUMN "some_column" TO "new_name";
-- case strong_migrations/renaming-a-table/rename: unsafe
ALTER TABLE "users" RENAME TO "customers";
-- case strong_migrations/renaming-a-table/new-table: safe
SET lock_timeout = '1s';
CREATE TABLE "customers" ("id" bigserial PRIMARY KEY, "name" character varying);
-- case strong_migrations/creating-a-table-with-the-force-option/force: unsafe
DROP TABLE IF EXISTS "users" CASCADE;
CREATE TABLE "users" ("id" bigserial PRIMARY KEY, "name" character varying);
-- case strong_migrations/creating-a-table-with-the-force-option/create: safe
CREATE TABLE "users" ("id" bigserial PRIMARY KEY, "name" character varying);
-- case strong_migrations/adding-an-auto-incrementing-column/bigserial: unsafe
ALTER TABLE "users" ADD "new_id" bigserial;
-- case strong_migrations/adding-an-auto-incrementing-column/identity: unsafe
ALTER TABLE "users" ADD "new_id" bigint GENERATED BY DEFAULT AS IDENTITY;
-- case strong_migrations/adding-a-stored-generated-column/stored: unsafe
ALTER TABLE "users" ADD "some_column" integer GENERATED ALWAYS AS (id * 2) STORED;
-- case strong_migrations/adding-a-stored-generated-column/virtual-pg18: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "some_column" integer GENERATED ALWAYS AS (id * 2) VIRTUAL;
-- case strong_migrations/adding-a-foreign-key/validate: unsafe
ALTER TABLE "users" ADD CONSTRAINT "fk_rails_c1e9b98e31" FOREIGN KEY ("order_id") REFERENCES "orders" ("id");
-- case strong_migrations/adding-a-foreign-key/validate-false-then-validate: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD CONSTRAINT "fk_rails_c1e9b98e31" FOREIGN KEY ("order_id") REFERENCES "orders" ("id") NOT VALID;
-- next
ALTER TABLE "users" VALIDATE CONSTRAINT "fk_rails_c1e9b98e31";
-- case strong_migrations/adding-a-check-constraint/validate: unsafe
ALTER TABLE "users" ADD CONSTRAINT "price_check" CHECK (price > 0);
-- case strong_migrations/adding-a-check-constraint/validate-false-then-validate: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD CONSTRAINT "price_check" CHECK (price > 0) NOT VALID;
-- next
ALTER TABLE "users" VALIDATE CONSTRAINT "price_check";
-- case strong_migrations/backfilling-data/same-transaction: unsafe
ALTER TABLE "users" ADD "some_column" text;
UPDATE "users" SET "some_column" = 'default_value';
-- case strong_migrations/backfilling-data/separate-batched: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "some_column" text;
-- next
-- berth:no-transaction
UPDATE "users" SET "some_column" = 'default_value' WHERE "id" >= 1 AND "id" < 1001 AND "some_column" IS NULL;
UPDATE "users" SET "some_column" = 'default_value' WHERE "id" >= 1001 AND "id" < 2001 AND "some_column" IS NULL;
-- case strong_migrations/adding-an-index-non-concurrently/add: unsafe
CREATE INDEX "index_users_on_some_column" ON "users" ("some_column");
-- case strong_migrations/adding-an-index-non-concurrently/concurrently: safe
CREATE INDEX CONCURRENTLY "index_users_on_some_column" ON "users" ("some_column");
-- case strong_migrations/adding-a-reference/index: unsafe
ALTER TABLE "users" ADD "city_id" bigint;
CREATE INDEX "index_users_on_city_id" ON "users" ("city_id");
-- case strong_migrations/adding-a-reference/concurrently: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "city_id" bigint;
-- next
CREATE INDEX CONCURRENTLY "index_users_on_city_id" ON "users" ("city_id");
-- case strong_migrations/adding-a-unique-constraint/add: unsafe
ALTER TABLE "users" ADD CONSTRAINT "index_users_on_some_column" UNIQUE ("some_column");
-- case strong_migrations/adding-a-unique-constraint/using-index: safe
CREATE UNIQUE INDEX CONCURRENTLY "index_users_on_some_column" ON "users" ("some_column");
-- next
SET lock_timeout = '1s';
ALTER TABLE "users" ADD CONSTRAINT "index_users_on_some_column" UNIQUE USING INDEX "index_users_on_some_column";
-- case strong_migrations/adding-an-exclusion-constraint/add: unsafe
ALTER TABLE "meetings" ADD CONSTRAINT "meetings_no_overlap" EXCLUDE USING gist ("room_id" WITH =, tsrange("starts_at", "ends_at") WITH &&);
-- case strong_migrations/adding-a-json-column/json: unsafe
ALTER TABLE "users" ADD "properties" json;
-- case strong_migrations/adding-a-json-column/jsonb: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "properties" jsonb;
-- case strong_migrations/adding-a-column-with-a-volatile-default-value/uuid: unsafe
ALTER TABLE "users" ADD "some_column" uuid DEFAULT gen_random_uuid();
-- case strong_migrations/adding-a-column-with-a-volatile-default-value/change-default: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "some_column" uuid;
ALTER TABLE "users" ALTER COLUMN "some_column" SET DEFAULT gen_random_uuid();
-- case strong_migrations/setting-not-null-on-an-existing-column/change-null: unsafe
ALTER TABLE "users" ALTER COLUMN "some_column" SET NOT NULL;
-- case strong_migrations/setting-not-null-on-an-existing-column/check-constraint: safe
SET lock_timeout = '1s';
ALTER TABLE "users" ADD CONSTRAINT "users_some_column_null" CHECK ("some_column" IS NOT NULL) NOT VALID;
-- next
SET lock_timeout = '1s';
ALTER TABLE "users" VALIDATE CONSTRAINT "users_some_column_null";
ALTER TABLE "users" ALTER COLUMN "some_column" SET NOT NULL;
ALTER TABLE "users" DROP CONSTRAINT "users_some_column_null";
-- case strong_migrations/validate-check-constraint/writes-blocked: unsafe
ALTER TABLE "users" ADD CONSTRAINT "users_some_column_null" CHECK ("some_column" IS NOT NULL) NOT VALID;
ALTER TABLE "users" VALIDATE CONSTRAINT "users_some_column_null";
-- case strong_migrations/validate-foreign-key/writes-blocked: unsafe
ALTER TABLE "users" ADD CONSTRAINT "fk_rails_c1e9b98e31" FOREIGN KEY ("order_id") REFERENCES "orders" ("id") NOT VALID;
ALTER TABLE "users" VALIDATE CONSTRAINT "fk_rails_c1e9b98e31";
-- case strong_migrations/renaming-an-enum-value/rename: unsafe
ALTER TYPE "status" RENAME VALUE 'done' TO 'completed';
-- case strong_migrations/renaming-an-enum-value/add-value: safe
ALTER TYPE "status" ADD VALUE 'completed' AFTER 'done';
-- case strong_migrations/renaming-a-schema/rename: unsafe
ALTER SCHEMA "users" RENAME TO "customers";
-- case strong_migrations/renaming-a-schema/new-schema: safe
CREATE SCHEMA "customers";
-- case strong_migrations/removing-an-index-non-concurrently/remove: unsafe
DROP INDEX "index_users_on_some_column";
-- case strong_migrations/removing-an-index-non-concurrently/concurrently: safe
DROP INDEX CONCURRENTLY "index_users_on_some_column";
-- case strong_migrations/add-index-corruption/pg14.3: unsafe
-- pg-version 14.3
CREATE INDEX CONCURRENTLY "index_users_on_some_column" ON "users" ("some_column");
-- case strong_migrations/add-column-default/pg10: unsafe
-- pg-version 10
ALTER TABLE "users" ADD "some_column" text DEFAULT 'default_value';
-- case strong_migrations/add-column-default/pg10-add-then-default: safe
-- pg-version 10
SET lock_timeout = '1s';
ALTER TABLE "users" ADD "some_column" text;
ALTER TABLE "users" ALTER COLUMN "some_column" SET DEFAULT 'default_value';

-- case eugene/E1/check-constraint: unsafe
create table authors(
    id integer generated always as identity primary key,
    name text
);
-- next
set local lock_timeout = '2s';
alter table authors add constraint name_not_null check (name is not null);
-- case eugene/E1/not-valid-then-validate: safe
create table authors(
    id integer generated always as identity primary key,
    name text
);
-- next
set local lock_timeout = '2s';
alter table authors add constraint name_not_null check (name is not null) not valid;
-- next
set local lock_timeout = '2s';
alter table authors validate constraint name_not_null;
-- case eugene/E2/set-not-null: unsafe
create table authors(
    id integer generated always as identity primary key,
    name text
);
-- next
set local lock_timeout = '2s';
alter table authors alter column name set not null;
-- case eugene/E2/check-then-set-not-null: safe
create table authors(
    id integer generated always as identity primary key,
    name text
);
-- next
set local lock_timeout = '2s';
alter table authors add constraint check_name_not_null check (name is not null) not valid;
-- next
set local lock_timeout = '2s';
alter table authors validate constraint check_name_not_null;
-- next
set local lock_timeout = '2s';
alter table authors alter name set not null;
-- case eugene/E3/json-column: unsafe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column meta json;
-- case eugene/E3/jsonb-column: safe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column meta jsonb;
-- case eugene/E4/select-after-lock: unsafe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column email text;
select count(*) from authors;
-- case eugene/E4/separate-migration: safe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column email text;
-- next
select count(*) from authors;
-- case eugene/E5/type-change: unsafe
create table prices (
    id integer generated always as identity primary key,
    price int not null
);
-- next
set local lock_timeout = '2s';
alter table prices alter price set data type bigint;
-- case eugene/E5/new-column: safe
create table prices (
    id integer generated always as identity primary key,
    price int not null
);
-- next
set local lock_timeout = '2s';
alter table prices add column new_price bigint;
-- next
-- berth:no-transaction
update prices set new_price = price :: bigint where new_price is null and id < 10000;
-- next
set local lock_timeout = '2s';
alter table prices add constraint check_new_price_not_null check (new_price is not null) not valid;
-- next
alter table prices validate constraint check_new_price_not_null;
-- case eugene/E6/index: unsafe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
create index authors_name_idx on authors (name);
-- case eugene/E6/concurrently: safe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
create index concurrently authors_name_idx on authors (name);
-- case eugene/E7/unique-constraint: unsafe
create table authors(
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add constraint unique_name unique(name);
-- case eugene/E7/using-index: safe
create table authors(
    id integer generated always as identity primary key,
    name text not null
);
-- next
create unique index concurrently authors_name_unique on authors(name);
-- next
set local lock_timeout = '2s';
alter table authors add constraint unique_name unique using index authors_name_unique;
-- case eugene/E8/exclusion: unsafe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add constraint authors_name_excl exclude (name with =);
-- case eugene/E9/no-lock-timeout: unsafe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
alter table authors add column email text;
-- case eugene/E9/lock-timeout: safe
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column email text;
-- case eugene/E10/rewrite-after-lock: unsafe
create table prices (
    id integer generated always as identity primary key,
    price int not null
);
create table authors (
    id integer generated always as identity primary key,
    name text not null
);
-- next
set local lock_timeout = '2s';
alter table authors add column meta jsonb;
alter table prices alter price set data type bigint;
-- case eugene/E11/serial: unsafe
create table prices (
    price int not null
);
-- next
set local lock_timeout = '2s';
alter table prices add column id serial;
-- case eugene/W14/pk-using-index-nullable: unsafe
create table authors(
    name text
);
-- next
create unique index concurrently authors_name_key on authors(name);
-- next
set local lock_timeout = '2s';
alter table authors add constraint authors_name_pkey primary key using index authors_name_key;
-- case eugene/W14/not-null-first: safe
create table authors(
    name text
);
-- next
create unique index concurrently authors_name_key on authors(name);
-- next
set local lock_timeout = '2s';
alter table authors add constraint authors_name_nn check (name is not null) not valid;
-- next
set local lock_timeout = '2s';
alter table authors validate constraint authors_name_nn;
alter table authors alter column name set not null;
-- next
set local lock_timeout = '2s';
alter table authors add constraint authors_name_pkey primary key using index authors_name_key;

-- case atlas/DS101/drop-schema: unsafe
DROP SCHEMA test CASCADE;
-- case atlas/DS102/drop-table: unsafe
DROP TABLE t1;
-- case atlas/DS103/drop-column: unsafe
ALTER TABLE t DROP COLUMN c;
-- case atlas/MF103/not-null-column: unsafe
ALTER TABLE t ADD COLUMN c int NOT NULL;
-- case atlas/MF104/set-not-null: unsafe
ALTER TABLE t ALTER COLUMN c SET NOT NULL;
-- case atlas/BC101/rename-table: unsafe
ALTER TABLE users RENAME TO "Users";
-- case atlas/BC101/rename-with-view: safe
SET lock_timeout = '1s';
ALTER TABLE users RENAME TO "Users";
CREATE VIEW users AS SELECT * FROM "Users";
-- case atlas/BC102/rename-column: unsafe
ALTER TABLE users RENAME COLUMN user_name TO name;
-- case atlas/CD101/drop-foreign-key: unsafe
ALTER TABLE pets DROP CONSTRAINT pets_owner_id_fkey;
-- case atlas/PG101/index: unsafe
CREATE INDEX users_name_idx ON users (name);
-- case atlas/PG102/drop-index: unsafe
DROP INDEX users_name_idx;
-- case atlas/PG103/concurrent-in-transaction: unsafe
CREATE TABLE t2 (id int);
CREATE INDEX CONCURRENTLY users_name_idx ON users (name);
-- case atlas/PG103/txmode-none: safe
-- berth:no-transaction
CREATE TABLE t2 (id int);
CREATE INDEX CONCURRENTLY users_name_idx ON users (name);
-- case atlas/PG104/primary-key: unsafe
ALTER TABLE users ADD PRIMARY KEY (id);
-- case atlas/PG104/using-index: safe
CREATE TABLE users (id bigint NOT NULL, name text);
-- next
CREATE UNIQUE INDEX CONCURRENTLY users_pkey ON users(id);
-- next
SET lock_timeout = '1s';
ALTER TABLE users ADD PRIMARY KEY USING INDEX users_pkey;
-- case atlas/PG105/unique: unsafe
ALTER TABLE users ADD UNIQUE (id);
-- case atlas/PG105/using-index: safe
CREATE UNIQUE INDEX CONCURRENTLY users_id_key ON users(id);
-- next
SET lock_timeout = '1s';
ALTER TABLE users ADD UNIQUE USING INDEX users_id_key;
-- case atlas/PG301/type-change: unsafe
ALTER TABLE users ALTER COLUMN age TYPE bigint;
-- case atlas/PG302/volatile-default: unsafe
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();
-- case atlas/PG302/stable-default: safe
SET lock_timeout = '1s';
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
-- case atlas/PG303/check-constraint-proves: safe
SET lock_timeout = '1s';
ALTER TABLE t ADD CONSTRAINT t_c_check CHECK (c > 10 AND c IS NOT NULL) NOT VALID;
-- next
ALTER TABLE t VALIDATE CONSTRAINT t_c_check;
-- case atlas/PG304/pk-nullable: unsafe
CREATE TABLE users (id bigint, name text);
-- next
CREATE UNIQUE INDEX CONCURRENTLY users_pkey ON users(id);
-- next
SET lock_timeout = '1s';
ALTER TABLE users ADD PRIMARY KEY USING INDEX users_pkey;
-- case atlas/PG305/check: unsafe
ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age > 0);
-- case atlas/PG305/check-not-valid: safe
SET lock_timeout = '1s';
ALTER TABLE users ADD CONSTRAINT users_age_check CHECK (age > 0) NOT VALID;
