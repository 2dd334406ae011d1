select id, predict('m', 'production', pixels) as digit from ticks where predict('m', pixels) > 0
-- plans as:
SELECT id, __INDB_PREDICT_M_V3(pixels) AS digit FROM ticks WHERE __INDB_PREDICT_M_V3(pixels) > 0
