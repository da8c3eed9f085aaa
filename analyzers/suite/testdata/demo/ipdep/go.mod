module example.com/ipdep

go 1.22
