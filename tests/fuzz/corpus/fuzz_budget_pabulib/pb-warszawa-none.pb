META
key;value
description;District PB in Warszawa, Bielany
country;Poland
unit;Warszawa
district;Bielany
subunit;Bielany
instance;2019
num_projects;3
num_votes;4
budget;1535183
vote_type;approval
rule;greedy
date_begin;14.06.2018
date_end;30.06.2018
min_length;1
max_sum_cost;1535183
edition;5
language;pl
currency;PLN
PROJECTS
project_id;cost;votes;name;category;target;selected
230;201400;3;Plaża miejska nad Wisłą przy ul. Marymonckiej;public space,sport,urban greenery;None;1
1824;128326;3;Sprzątanie brzegów Wisły na Bielanach;education,environmental protection,public space;adults,seniors,families with children;1
2387;5000;1;Dzień profilaktyki zdrowia w Bielańskim Ośrodku Kultury;education,health;youth,adults,seniors;0
VOTES
voter_id;vote;sex;age;voting_method
1;230,1824;F;34;internet
2;230;M;None;paper
3;230,1824,2387;F;61;internet
4;1824;None;27;internet
