# The page in a real browser (headless Chromium, installed if missing):
# not part of `make test`, so that a fresh machine's first test run need
# not download a browser. .ci/run runs it after make test.
BROWSER_PKGS = chromium python3 curl procps

.PHONY: browser-deps browser-test pictures

browser-deps: deps
	@sh tools/need_packages.sh "the browser test" $(BROWSER_PKGS)

browser-test: browser-deps
	$(call quiet_build,all)
	@sh tests/browser.sh $(BUILD)

# The README's pictures (docs/img/page.png, docs/img/lesson.svg), made
# from a real run of the lesson, never drawn by hand.
pictures: browser-deps
	$(call quiet_build,all)
	@sh tests/browser.sh $(BUILD) docs/img
