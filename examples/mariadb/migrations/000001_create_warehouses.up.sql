-- berth:lock-timeout 5s
-- Warehouses, each with a short code that people type (unique).
CREATE TABLE warehouses (
  id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
  code       VARCHAR(16)  NOT NULL,
  name       VARCHAR(100) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_warehouses_code (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
