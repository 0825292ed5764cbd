DROP TABLE stock_levels;
DROP TABLE products;
