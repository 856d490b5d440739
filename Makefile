# Corroborate: the two set-up commands are `make up` and `make test`.
.PHONY: up down status test demo contracts lint

up:  ## install what is missing, start the infrastructure and the three services
	@bash deploy/local/bootstrap.sh
	@bash deploy/local/stack.sh start
	@bash deploy/local/services.sh start

down:  ## stop the services and whatever infrastructure `make up` started
	@bash deploy/local/services.sh stop
	@bash deploy/local/stack.sh stop

status:
	@bash deploy/local/services.sh status
	@bash deploy/local/stack.sh status

test:  ## lint, type-check and run every test against real servers
	@bash deploy/local/test.sh

demo:  ## walk one referral to an issued report through the running stack
	@CORROBORATE_ENV_FILE=.local/corroborate.env uv run corroborate demo

contracts:  ## regenerate the committed OpenAPI and AsyncAPI documents
	@CORROBORATE_ENV_FILE=.local/test/corroborate.env uv run python tests/contracts/export.py
