DROP TABLE launch_keys;
