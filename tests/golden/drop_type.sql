drop type if exists public.mood cascade
-- renders as:
DROP TYPE IF EXISTS mood
