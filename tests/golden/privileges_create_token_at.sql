create token for alice expires '2027-01-31 18:00:00'
-- renders as:
CREATE TOKEN FOR alice EXPIRES '2027-01-31 18:00:00'
