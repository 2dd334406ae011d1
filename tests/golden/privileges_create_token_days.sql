create token for alice expires in 30 days
-- renders as:
CREATE TOKEN FOR alice EXPIRES IN 30 DAYS
