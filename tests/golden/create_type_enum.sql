create type public.mood as enum ('sad', 'ok')
-- renders as:
CREATE TYPE mood AS ENUM('sad', 'ok')
