module github.com/bulwarkai/bulwark

go 1.26.8
