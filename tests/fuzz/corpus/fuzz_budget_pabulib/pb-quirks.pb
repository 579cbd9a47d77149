META
key;value
unit;Gdańsk
instance;2020
district;Śródmieście
date_begin;2019-09-09
date_end;23.09.2019
PROJECTS
project_id;cost;name
A/1;"1000,50";"Park ""Zielony""; etap 1"
VOTES
voter_id;vote;points;age
1;A/1;5;
2;A/1,A/2;3,2;x
