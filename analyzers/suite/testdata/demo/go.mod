module example.com/demo

go 1.22

require example.com/ipdep v0.0.0

replace example.com/ipdep => ./ipdep
