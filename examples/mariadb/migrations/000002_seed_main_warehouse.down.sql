DELETE FROM warehouses WHERE code = 'MAIN';
