grant analyst, developer to alice, bob
-- renders as:
GRANT analyst, developer TO alice, bob
