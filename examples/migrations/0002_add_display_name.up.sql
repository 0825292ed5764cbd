-- Expand: a nullable column the running release ignores.
ALTER TABLE accounts ADD COLUMN display_name text;
