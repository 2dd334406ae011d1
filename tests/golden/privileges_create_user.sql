create user Alice password 'correct horse'
-- renders as:
CREATE USER Alice PASSWORD 'correct horse'
