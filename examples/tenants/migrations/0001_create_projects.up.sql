-- berth:lock-timeout 5s
-- Unqualified names: berth runs each tenant's migrations with search_path set to its schema.
CREATE TABLE projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
