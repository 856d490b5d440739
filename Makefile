# Corroborate: the two set-up commands are `make up` and `make test`.
.PHONY: up down status test demo contracts bench

up:  ## install what is missing, start the infrastructure and the three services
	@bash deploy/local/up.sh

down:  ## stop the services and whatever infrastructure `make up` started
	@bash deploy/local/down.sh

status:
	@bash deploy/local/services.sh status
	@bash deploy/local/stack.sh status

test:  ## lint, type-check and run every test against real servers
	@bash deploy/local/test.sh

demo:  ## walk one referral to an issued report through the running stack
	@CORROBORATE_ENV_FILE=.local/corroborate.env .venv/bin/corroborate demo $(ARGS)

contracts:  ## regenerate the committed OpenAPI and AsyncAPI documents
	@.venv/bin/python tests/contracts/test_contracts.py

bench:  ## benchmarks against raw limits measured in the same run (ARGS=--quick for a short one)
	@.venv/bin/python -m bench $(ARGS)
