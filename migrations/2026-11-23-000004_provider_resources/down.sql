DROP TABLE key_pairs, firewalls, zones, products, prices;
