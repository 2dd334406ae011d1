alter type public.mood add value if not exists 'calm' before 'ok'
-- renders as:
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'calm' BEFORE 'ok'
