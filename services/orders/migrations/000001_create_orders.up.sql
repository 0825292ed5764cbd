-- berth:lock-timeout 5s
-- The orders table. user_id refers to a user of the users service, which owns another database:
-- there is no foreign key; the service checks the user with the users service before inserting.
CREATE TABLE orders (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint      NOT NULL,
  item       text        NOT NULL,
  quantity   integer     NOT NULL CONSTRAINT orders_quantity_positive CHECK (quantity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
