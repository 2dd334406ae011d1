select sym like (chr(0) || '%') escape chr(0), sym ilike 'a#_%' escape '#', sym not like pat escape esc from ticks
-- renders as:
SELECT sym LIKE (CHR(0) || '%') ESCAPE CHR(0), sym ILIKE 'a#_%' ESCAPE '#', sym NOT LIKE pat ESCAPE esc FROM ticks
