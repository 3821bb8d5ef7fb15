# The two commands the README names.
.PHONY: run test

run:
	go run ./cmd/memberd serve

test:
	bash scripts/test.sh
