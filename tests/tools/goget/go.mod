module connectd/goget

go 1.19
