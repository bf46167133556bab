# imagegate — wraps Meson. `make run` and `make test` work on a fresh Debian
# machine: scripts/deps.sh installs whatever is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
MESON_OPTS ?= --buildtype=debugoptimized -Dwerror=true
ARGS       ?=

.PHONY: deps build run test test-unit test-integration test-asan bench fuzz format clean

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/imagegate serve $(ARGS)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dwerror=true -Dfuzz=true \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dallocator=system

# Every test, then the whole suite again under ASan+UBSan, then every
# fuzz target for 20 seconds over its corpus.
test: build $(ASAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ninja -C $(FUZZ_BUILD)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=20 ./tests/run.sh $(BUILD) $(ASAN_BUILD)

# The libFuzzer harnesses (tests/fuzz), FUZZ_SECONDS each.
fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

test-unit: build
	meson test -C $(BUILD) --print-errorlogs

bench: deps
	IMAGEGATE_BENCH_DEPS=1 ./scripts/deps.sh
	$(MAKE) build
	./bench/run.sh $(BUILD)
	./bench/provider.sh $(BUILD)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
