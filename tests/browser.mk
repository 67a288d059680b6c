# The page in a real browser (headless Chromium, installed if missing):
# not part of `make test`, so that a fresh machine's first test run need
# not download a browser. .ci/run runs it after make test.
BROWSER_PKGS = chromium python3 curl

.PHONY: browser-deps browser-test pictures

browser-deps: deps
	@missing=""; for p in $(BROWSER_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "the browser test needs these Debian packages:$$missing"; \
	  echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	  exit 1; \
	fi

browser-test: browser-deps
	$(call quiet_build,all)
	@sh tests/browser.sh $(BUILD)

# The README's pictures (docs/img/page.png, docs/img/lesson.svg), made
# from a real run of the lesson, never drawn by hand.
pictures: browser-deps
	$(call quiet_build,all)
	@sh tests/browser.sh $(BUILD) docs/img
