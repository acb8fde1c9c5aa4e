DROP TRIGGER pass_console_deprecation_on_delete ON image_records;
DROP TRIGGER pass_console_deprecation_on_update ON image_records;
DROP TRIGGER pass_console_deprecation_on_insert ON image_records;
DROP FUNCTION image_records_pass_console_deprecation();
DROP TRIGGER take_console_deprecation ON public_images;
DROP FUNCTION public_images_take_console_deprecation();
DROP FUNCTION console_deprecates(TEXT, TEXT, TEXT);
ALTER TABLE public_images DROP COLUMN deprecated_in_console;
