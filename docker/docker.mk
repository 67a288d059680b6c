# The Docker image, built and tested for real on a private engine:
# `make docker-test` (as root; see docker/test.sh and "Run in Docker" in
# README.md).

.PHONY: docker-test

docker-test: all
	@BAEDAL_CLIENT=$(abspath $(BUILD))/baedal bash docker/test.sh
