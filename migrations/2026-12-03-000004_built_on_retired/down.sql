DROP FUNCTION built_on_retired(BIGINT);
