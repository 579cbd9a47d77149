META
key;value
description;District PB in Gdańsk, OLSZYNKA
country;Poland
unit;Gdańsk
subunit;OLSZYNKA
instance;2020
district;OLSZYNKA
num_projects;5
num_votes;450
budget;211000
vote_type;cumulative
rule;greedy
date_begin;09.09.2019
date_end;23.09.2019
min_sum_points;1
max_sum_points;5
language;polish
edition;7
PROJECTS
project_id;cost;votes;score;name
OLS/0004;211000;312;1312;TRENINGOWE PLACE ZABAW W DZIELNICY OLSZYNKA
OLS/0005;19975;129;435;Budzimy się pod niebem Olszynki
OLS/0006;112000;72;202;Mała architektura, inteligentne oświetlenie oraz czujniki jakości powietrza przy bastionach (na wysokości ul. Zuchów)
OLS/0003;62400;58;181;Doposażenie placu zabaw ul. Miodowa
VOTES
voter_id;vote;points;sex;age
144;OLS/0003;5;F;35
691;OLS/0006,OLS/0004;3,2;F;34
789;OLS/0004,OLS/0005;3,2;F;25
1170;OLS/0006,OLS/0004;3,2;M;42
1267;OLS/0004;5;F;58
1272;OLS/0006,OLS/0003;3,2;F;35
1289;OLS/0004;5;M;58
1346;OLS/0003,OLS/0004,OLS/0005,OLS/0006;2,1,1,1;F;70
1371;OLS/0003;5;F;12
1460;OLS/0003;5;F;50
1488;OLS/0005,OLS/0004;3,2;F;29
1614;OLS/0005;5;F;37
1682;OLS/0005;5;F;41
