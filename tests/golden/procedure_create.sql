create or replace procedure nightly
language sql
begin
    delete from daily where d < current_date - 30;
    insert into daily select current_date, count(*) from ticks;
end execute for every 1 days starting at '2027-01-01 02:00:00' stop after 30 day
-- renders as:
CREATE OR REPLACE PROCEDURE nightly BEGIN
  delete from daily where d < current_date - 30;
  insert into daily select current_date, count(*) from ticks;
END EXECUTE FOR EVERY 1 DAY STARTING AT '2027-01-01 02:00:00' STOP AFTER 30 DAYS
