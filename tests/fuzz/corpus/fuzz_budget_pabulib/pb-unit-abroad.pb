META
key;value
description;Municipal PB in Wrocław
country;Netherlands
unit;Amsterdam
instance;2018
num_projects;3
num_votes;3
budget;25000000
vote_type;approval
rule;greedy
date_begin;14.09.2018
date_end;30.09.2018
max_length;1
language;polish
PROJECTS
project_id;cost;votes;name;category;selected
WBO/0012;1000000;2;Remont chodników na osiedlu Krzyki-Partynice;public transit and roads;1
WBO/0107;750000;1;Zielone podwórko przy ul. Jedności Narodowej;urban greenery;1
WBO/0211;250000;0;Pumptrack na Psim Polu;sport;None
VOTES
voter_id;vote;age;sex
w-1;WBO/0012;45;M
w-2;WBO/0107;29;F
w-3;WBO/0012;NaN;-
